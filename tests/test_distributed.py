"""Two gloo processes on CPU train one model and count every test video once."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).parent))  # spawned processes import the stand-ins too


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, folder: str) -> None:
    import torch.distributed as dist

    from dataclasses import replace

    from azlib.training.distributed import init_distributed
    from azlib.training.evaluate import evaluate
    from azlib.training.fit import fit
    from train_standins import TRAIN_CFG, ClipTensors, TinyZoomModel

    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank)})
    torch.set_num_threads(1)
    ctx = init_distributed("cpu")
    torch.manual_seed(100 + rank)  # different initialisation per rank: DDP must make them one
    model = TinyZoomModel()
    cfg = replace(TRAIN_CFG, epochs=1, batch_size=4)
    summary = fit(model, ClipTensors(videos=10), cfg, Path(folder) / "run", seed=0, ctx=ctx,
                        progress=False, frame_hw=(8, 8))
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    test = ClipTensors(videos=7, train=False, test_clips=3, seed=1)  # 21 clips: 11 + 10
    pred = evaluate(model, test, 7, 3, batch_size=4, ctx=ctx, progress=False)
    np.savez(Path(folder) / f"rank{rank}.npz", params=flat.numpy(), scores=pred["scores"],
             clips=pred["clips"], labels=pred["labels"], loss=summary["log"][0]["loss"])
    torch.save(model.state_dict(), Path(folder) / f"model{rank}.pt")
    dist.destroy_process_group()


def test_two_gloo_processes_train_one_model_and_count_each_test_video_once(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = (np.load(tmp_path / f"rank{r}.npz") for r in (0, 1))
    np.testing.assert_array_equal(rank0["params"], rank1["params"])
    assert rank0["loss"] == rank1["loss"]  # metrics reduced across ranks
    assert rank0["clips"].tolist() == [3] * 7  # every clip once: no padding, no duplicates
    np.testing.assert_array_equal(rank0["scores"], rank1["scores"])
    assert rank0["labels"].tolist() == [v % 3 for v in range(7)]

    # the gathered evaluation equals a single-process evaluation of the same weights
    from azlib.training.evaluate import evaluate
    from train_standins import ClipTensors, TinyZoomModel

    model = TinyZoomModel()
    model.load_state_dict(torch.load(tmp_path / "model0.pt"))
    single = evaluate(model, ClipTensors(videos=7, train=False, test_clips=3, seed=1), 7, 3,
                            batch_size=4, progress=False)
    np.testing.assert_allclose(single["scores"], rank0["scores"], rtol=1e-6, atol=1e-7)
    assert (tmp_path / "run" / "checkpoint.pt").is_file()  # written once, by rank 0

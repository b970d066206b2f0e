"""Run what a table needs and reuse what is done, safely from many processes or machines.

Every run is trained once: a process takes a run's lock (``runs/<key>/.lock``, holding its host,
pid and start time) before training it, and skips a run whose lock another live process holds,
coming back to it at the end. So several ``experiments`` processes on one results folder, on one
machine or many sharing a filesystem, split a grid between them. A lock is stale, and is broken,
when its process is gone (same host) or when it has not been refreshed for
:data:`LOCK_STALE_AFTER_S` (any host; a holder refreshes it every :data:`LOCK_HEARTBEAT_S`).

A record made by other code (another fingerprint of :data:`azlib.provenance.RUN_CODE`) is never
used silently: the run is trained again, unless ``reuse_stale`` is set, in which case the newest
such record is used and marked stale in every table that shows it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from azlib import records
from azlib.config import Profile, RunSpec, run_spec
from azlib.datasets.check import DatasetCheck
from azlib.errors import ConfigError
from azlib.files import read_json, remove_stale_partials, write_json
from azlib.grid import PlannedRun, plan, pretrain_spec, table_spec
from azlib.parallel import parallel_map
from azlib.settings import replace
from azlib.training.distributed import Dist, agree, init_distributed, is_main_process
from azlib.training.run import check_data, lnet_store, reads_lnet_input, train_run

LOCK_FILE = ".lock"
LOCK_HEARTBEAT_S = 60
LOCK_STALE_AFTER_S = 15 * 60
WAIT_POLL_S = 2


# --- locks ------------------------------------------------------------------------------------

class RunLock:
    """An exclusive, self-refreshing lock on one run folder (see the module docstring)."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_FILE
        self.owner = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def is_stale(self) -> bool:
        holder = self.holder()
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return False
        if age > LOCK_STALE_AFTER_S:
            return True
        if holder and holder.get("host") == socket.gethostname():
            try:
                os.kill(int(holder["pid"]), 0)
            except ProcessLookupError:
                return True
            except (PermissionError, ValueError, KeyError):
                return False
        return False

    def _break(self) -> None:
        """Remove a stale lock; the rename makes sure two breakers do not both succeed."""
        moved = self.path.with_name(f"{LOCK_FILE}.stale-{os.getpid()}@{socket.gethostname()}")
        try:
            os.rename(self.path, moved)
        except FileNotFoundError:
            return
        moved.unlink(missing_ok=True)

    def acquire(self) -> bool:
        """Take the lock if it is free (or stale); False when a live process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self.is_stale():
                    return False
                self._break()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(self.owner, f)
            self._thread = threading.Thread(target=self._heartbeat, daemon=True)
            self._thread.start()
            return True
        return False

    def _heartbeat(self) -> None:
        while not self._stop.wait(LOCK_HEARTBEAT_S):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.holder() == self.owner:
            self.path.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


# --- finding records --------------------------------------------------------------------------

@dataclass(frozen=True)
class Found:
    """The record a planned run uses: current, stale (made by other code), or none yet."""

    record: records.RunRecord | None
    stale: bool = False


def find_record(spec: RunSpec, out_dir, reuse_stale: bool = False) -> Found:
    folder = records.run_dir(out_dir, spec)
    if records.is_complete(folder):
        return Found(records.load_run(folder))
    if reuse_stale:
        older = records.records_of_spec(out_dir, records.spec_key(spec))
        if older:
            return Found(older[0], stale=True)
    return Found(None)


# --- resolving and validating -----------------------------------------------------------------

def with_data_identity(specs: list[RunSpec], out_dir, progress: bool = True) -> list[RunSpec]:
    """``specs`` with the identity of their real dataset attached (the dataset check runs once
    per dataset, split and clip length; its manifest makes a repeat cheap). SynthActions is
    identified by its generator settings and is checked when it is generated."""
    checks: dict[tuple, DatasetCheck] = {}
    resolved = []
    for spec in specs:
        if not spec.synthetic:
            where = (spec.dataset, spec.data_root, spec.split, spec.clip.span, spec.allow_missing,
                     spec.dataset_classes)
            if where not in checks:
                checks[where] = check_data(spec, out_dir, progress=progress)
            spec = replace(spec, "run", data_id=checks[where].identity())
        resolved.append(spec)
    return resolved


def resolve(planned: list[PlannedRun], out_dir, progress: bool = True) -> list[PlannedRun]:
    """The planned runs with their dataset identity attached (:func:`with_data_identity`)."""
    specs = with_data_identity([p.spec for p in planned], out_dir, progress)
    return [dataclasses.replace(p, spec=spec) for p, spec in zip(planned, specs)]


def single_run(profile: Profile, seed: int | None = None, split=None, out_dir=".",
               progress: bool = True) -> tuple[RunSpec, RunSpec | None]:
    """The run ``python -m azlib train`` trains (the profile as it is) and its pretraining run."""
    spec = run_spec(profile, seed=seed, split=split)
    pre = None
    if profile.pretrain.enabled and spec.model.pretrained is None:
        pre = pretrain_spec(spec, profile)
        spec = replace(spec, "run", model=replace(spec.model, "model", pretrained=records.run_reference(pre)))
    return with_data_identity([spec], out_dir, progress)[0], pre


def check_weights(planned: list[PlannedRun], out_dir) -> None:
    """Stop before any work when a run names local weights that are not there (a planned
    pretraining run writes its own)."""
    for p in planned:
        pretrained = p.spec.model.pretrained
        if p.pretrain is None and pretrained and pretrained != "kinetics400":
            path = records.resolve_weights(pretrained, out_dir)
            if not Path(path).is_file():
                raise ConfigError(f"model.pretrained: no weights file {path}; train the pretraining "
                                  "run first (python -m azlib experiments) or set model.pretrained=null")


# --- running ----------------------------------------------------------------------------------

def _worker_threads(threads: int) -> None:
    """Each worker keeps this process's intra-op thread count, so its floating-point sums (and
    numbers) are those of a serial run."""
    torch.set_num_threads(threads)


def _distributed(device: str) -> Dist | None:
    """The process group under torchrun (joined on first use), else None."""
    return init_distributed(device) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None


def _run_job(spec: RunSpec, out_dir: str, crops, progress: bool = False) -> str:
    """Train one run under its lock: 'trained' (here), 'done' (finished before) or 'busy'
    (another process holds it). Under torchrun, rank 0 takes the lock and every rank trains."""
    ctx = _distributed(spec.device)
    folder = records.run_dir(out_dir, spec)
    if not needs_training(spec, out_dir, crops):
        return "done"
    lock = RunLock(folder) if ctx is None or ctx.main else None
    if not agree(lock.acquire() if lock is not None else None, ctx):
        return "busy"
    try:
        if not agree(needs_training(spec, out_dir, crops), ctx):  # finished while we took the lock
            return "done"
        train_run(spec, out_dir, crops=crops, progress=progress, ctx=ctx)
    finally:
        if lock is not None:
            lock.release()
    return "trained"


def needs_training(spec: RunSpec, out_dir, crops=False, reuse_stale: bool = False) -> bool:
    """Whether ``spec`` still has to be trained (or, with ``crops``, to have its Table 7 crops)."""
    folder = records.run_dir(out_dir, spec)
    if records.is_complete(folder):
        return bool(crops) and not (folder / records.CROPS_FILE).is_file()
    return not (reuse_stale and find_record(spec, out_dir, True).record is not None)


def prepare_shared_inputs(specs: list[RunSpec], out_dir, workers: int, progress: bool = True) -> None:
    """Generate the datasets and fill the LNet-input store that ``specs`` share, once, before
    runs go side by side: parallel runs then only read what is on disk."""
    seen = set()
    for spec in specs:
        where = (spec.dataset, spec.data_root, spec.split, spec.synth,
                 spec.extract if reads_lnet_input(spec) else None, spec.clip.span)
        if where in seen:
            continue
        seen.add(where)
        check = check_data(spec, out_dir, progress=progress)
        if reads_lnet_input(spec):
            index = check.index()
            lnet_store(spec, out_dir).fill([r.path for r in index.train + index.test], workers=workers,
                                           progress=progress)


def run_specs(specs: list[RunSpec], out_dir, *, jobs: int = 1, crops=False,
              progress: bool = True, desc: str = "runs", labels: list[str] | None = None) -> int:
    """Train every spec that is not finished, ``jobs`` side by side, each under its lock; then
    wait for those another process holds, taking over any whose lock goes stale. ``crops``: a
    value of :func:`azlib.training.run.train_run`'s for every spec, or {run key: value}. Returns
    how many runs this process trained."""
    crops_of = (lambda spec: crops.get(records.run_key(spec), False)) if isinstance(crops, dict) else (lambda spec: crops)
    trained = 0
    pending = list(specs)
    labels = list(labels or [records.run_key(s) for s in specs])
    ctx = _distributed(specs[0].device) if specs else None
    while pending:
        busy = []
        jobs_args = [(spec, str(out_dir), crops_of(spec), progress and jobs == 1) for spec in pending]
        results = parallel_map(_run_job, jobs_args, workers=jobs, desc=desc, unit="run",
                               progress=progress and is_main_process(), labels=labels,
                               initializer=_worker_threads, initargs=(torch.get_num_threads(),))
        for (spec, *_), status in results:
            trained += status == "trained"
            if status == "busy":
                busy.append(spec)
        if not busy:
            return trained
        if is_main_process():
            print(f"{len(busy)} run(s) are being trained by other processes; waiting for them",
                  file=sys.stderr, flush=True)
        while busy and not agree(any(RunLock(records.run_dir(out_dir, s)).is_stale() for s in busy), ctx):
            time.sleep(WAIT_POLL_S)
            busy = [s for s in busy if agree(needs_training(s, out_dir, crops_of(s)), ctx)]
        labels = [records.run_key(s) for s in busy]
        pending = busy
    return trained


def run_planned(planned: list[PlannedRun], out_dir, *, jobs: int = 1, progress: bool = True,
                desc: str = "runs") -> int:
    """Train what is missing of ``planned``: their pretraining runs first, then each distinct run
    once (runs of several rows may share a key). Returns how many runs this process trained."""
    pretrains = {records.run_key(p.pretrain): p.pretrain for p in planned if p.pretrain}
    trained = run_specs(list(pretrains.values()), out_dir, jobs=jobs, progress=progress, desc="pretraining",
                        labels=[f"pretraining {s.model.backbone}" for s in pretrains.values()])
    unique: dict[str, PlannedRun] = {}
    for p in planned:
        unique.setdefault(records.run_key(p.spec), p)
    return trained + run_specs([p.spec for p in unique.values()], out_dir, jobs=jobs, progress=progress,
                               desc=desc, labels=[f"{p.row.key} seed {p.seed}" for p in unique.values()])


def run_table(table_id, profile: Profile, out_dir, seeds=None, progress: bool = True,
              dry_run: bool = False, jobs: int | None = None, reuse_stale: bool | None = None) -> dict:
    """Run what is missing of one table, reuse the rest; write ``tables/table<id>.json``.

    ``jobs`` (default ``experiments.jobs``; 1 under torchrun) runs train side by side in separate
    processes, pretraining runs first (the fine-tuning runs load their weights).
    """
    started = time.perf_counter()
    table = table_spec(table_id)
    reuse_stale = profile.experiments.reuse_stale if reuse_stale is None else reuse_stale
    jobs = _jobs(profile, jobs)
    planned = resolve(plan(table.id, profile, seeds), out_dir, progress=progress)
    check_weights(planned, out_dir)
    remove_stale_partials(Path(out_dir) / "runs")
    unique = {records.run_key(p.spec): p for p in planned}
    pretrains = {records.run_key(p.pretrain): p.pretrain for p in planned if p.pretrain}
    todo = [p for p in unique.values() if needs_training(p.spec, out_dir, table.crops, reuse_stale)]
    pre_todo = [s for s in pretrains.values() if needs_training(s, out_dir)]
    if is_main_process():
        stale = sum(find_record(p.spec, out_dir, reuse_stale).stale for p in unique.values())
        print(f"table {table.id} ({profile.name}): {len(unique)} runs, {len(unique) - len(todo)} done"
              f"{f' ({stale} stale)' if stale else ''}, {len(todo)} to train; pretraining: "
              f"{len(pretrains) - len(pre_todo)} done, {len(pre_todo)} to train",
              file=sys.stderr, flush=True)
    if dry_run:
        return {"table": table.id, "runs": len(unique), "todo": len(todo) + len(pre_todo)}
    if jobs > 1 and len(todo) + len(pre_todo) > 1:
        prepare_shared_inputs(pre_todo + [p.spec for p in todo], out_dir, workers=jobs, progress=progress)
    trained = run_specs(pre_todo, out_dir, jobs=jobs, progress=progress,
                        desc=f"table {table.id} pretraining",
                        labels=[f"pretraining {s.model.backbone}" for s in pre_todo])
    for stage in _crop_stages(todo) if table.crops else [todo]:
        trained += run_specs([p.spec for p in stage], out_dir, jobs=jobs,
                             crops=crop_settings(stage, planned, out_dir) if table.crops else False,
                             progress=progress, desc=f"table {table.id}",
                             labels=[f"{p.row.label} {p.dataset}/{p.split} seed {p.seed}" for p in stage])
    summary = table_record(table.id, planned, out_dir, reuse_stale)
    summary["invocation_time_s"] = round(time.perf_counter() - started, 2)
    path = Path(out_dir) / "tables" / f"table{table.id}.json"
    if not todo and not pre_todo and path.is_file():
        # nothing ran: keep the wall time of the call that computed these runs, not this reuse
        earlier = read_json(path)
        if earlier.get("runs") == summary["runs"] and "invocation_time_s" in earlier:
            summary["invocation_time_s"] = earlier["invocation_time_s"]
    if is_main_process():
        write_json(path, summary)
    return {**summary, "trained_here": trained}


def _crop_stages(todo: list[PlannedRun]) -> list[list[PlannedRun]]:
    """Table 7's runs in two stages: the adaptive models, then the baselines (which need them)."""
    return [[p for p in todo if p.spec.model.zoom == "adaptive"],
            [p for p in todo if p.spec.model.zoom != "adaptive"]]


def crop_settings(stage: list[PlannedRun], planned: list[PlannedRun], out_dir) -> dict:
    """{run key: crops} for Table 7: True for an adaptive model; for a baseline, the mean scale of
    the adaptive run of the same dataset, split and seed (its centre crop at the mean adaptive
    ratio), or True (no such crop) when the table has no adaptive row."""
    scales = {}
    for p in planned:
        if p.spec.model.zoom == "adaptive":
            found = find_record(p.spec, out_dir)
            if found.record is not None and "mean_scale" in found.record.metrics:
                scales[(p.dataset, p.split, p.seed)] = tuple(found.record.metrics["mean_scale"])
    settings = {}
    for p in stage:
        adaptive = p.spec.model.zoom == "adaptive"
        settings[records.run_key(p.spec)] = True if adaptive else scales.get((p.dataset, p.split, p.seed), True)
    return settings


def _jobs(profile: Profile, jobs) -> int:
    """Runs side by side: ``jobs``, else ``experiments.jobs``; 1 under torchrun (the ranks
    already share each run)."""
    value = profile.experiments.jobs if jobs is None else jobs
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"experiments.jobs / --jobs: {value!r} must be a positive integer")
    return 1 if int(os.environ.get("WORLD_SIZE", "1")) > 1 else value


def table_record(table_id: str, planned: list[PlannedRun], out_dir, reuse_stale: bool = False) -> dict:
    """Which runs make the table, which are stale, and what produced them: the measured time of
    training and evaluating every run (pretraining included), the commits, machines and library
    versions their records name."""
    table = table_spec(table_id)
    specs = {records.run_key(p.spec): p.spec for p in planned}
    specs.update({records.run_key(p.pretrain): p.pretrain for p in planned if p.pretrain})
    pre_keys = sorted({records.run_key(p.pretrain) for p in planned if p.pretrain})
    total, done, stale, made_by = 0.0, 0, [], []
    for key, spec in specs.items():
        found = find_record(spec, out_dir, reuse_stale)
        if found.record is None:
            continue
        done += 1
        metrics, provenance = found.record.metrics, found.record.provenance
        total += metrics.get("wall_time_s", 0.0)
        if found.record.crops and table.crops and key not in pre_keys:
            total += found.record.crops.get("wall_time_s", 0.0)
        if found.stale:
            stale.append({"key": key, "record": found.record.key, "commit": provenance.get("commit")})
        made_by.append(provenance)
    return {"table": table.id, "runs": sorted(k for k in specs if k not in pre_keys),
            "pretraining_runs": pre_keys, "complete": done, "missing": len(specs) - done,
            "stale": stale, "wall_time_s": round(total, 2), "made_by": provenance_summary(made_by)}


def provenance_summary(provenances: list[dict]) -> dict:
    """What several runs' provenance records have in common, as sorted lists of distinct values."""
    def distinct(get):
        return sorted({str(v) for v in (get(p) for p in provenances) if v is not None})
    env = lambda p: p.get("environment") or {}
    return {
        "commits": distinct(lambda p: p.get("commit")),
        "dirty": any(p.get("dirty") for p in provenances),
        "fingerprints": distinct(lambda p: p.get("fingerprint")),
        "cpus": distinct(lambda p: env(p).get("cpu")),
        "gpus": distinct(lambda p: env(p).get("gpu")),
        "hosts": distinct(lambda p: env(p).get("host")),
        "torch_threads": distinct(lambda p: env(p).get("torch_threads")),
        "versions": {name: distinct(lambda p, n=name: (env(p).get("versions") or {}).get(n))
                     for name in ("python", "torch", "torchvision", "av", "pytorchvideo")},
        "started": min((p["started"] for p in provenances if p.get("started")), default=None),
        "finished": max((p["finished"] for p in provenances if p.get("finished")), default=None),
    }

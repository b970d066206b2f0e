"""The process pool: results in completion order, and no worker outliving its parent."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from azlib.parallel import parallel_map


def _square(x):
    return x * x


def test_parallel_map_returns_every_job_in_both_modes():
    jobs = [(i,) for i in range(5)]
    for workers in (1, 2):
        results = dict(parallel_map(_square, jobs, workers=workers, progress=False))
        assert results == {(i,): i * i for i in range(5)}


SCRIPT = textwrap.dedent('''
    import os, sys, time
    from azlib.parallel import parallel_map

    def job(folder, i):
        open(os.path.join(folder, f"worker-{os.getpid()}"), "w").close()
        time.sleep(120)
        return i

    if __name__ == "__main__":
        for _ in parallel_map(job, [(sys.argv[1], 0), (sys.argv[1], 1)], workers=2, progress=False):
            pass
''')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_exit_when_the_parent_is_killed(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)],
                              env=os.environ | {"OMP_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 60
        while len(list(tmp_path.glob("worker-*"))) < 2:
            assert time.time() < deadline, "the workers did not start"
            time.sleep(0.2)
        workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
        parent.send_signal(signal.SIGTERM)  # reaches the parent only, as `kill PID` does
        parent.wait(timeout=30)
        deadline = time.time() + 15
        while any(_alive(pid) for pid in workers) and time.time() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers), "a worker kept running after its parent died"
    finally:
        parent.kill()
        for p in tmp_path.glob("worker-*"):
            try:
                os.kill(int(p.name.split("-")[1]), signal.SIGKILL)
            except ProcessLookupError:
                pass

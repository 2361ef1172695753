"""tests/xdist_groups.py: under `-n 2 --dist loadgroup` (make test), every test marked
xdist_group("g") runs on the same worker (a module fixture that costs seconds is then built
once, not once per worker)."""
import os
import subprocess
import sys

from tests.helpers import REPO

SCRATCH = '''
import os
import pytest

def record(name):
    with open(os.path.join(os.path.dirname(__file__), name), "w") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"])

@pytest.mark.xdist_group("g")
@pytest.mark.parametrize("i", range(8))
def test_grouped(i):
    record(f"grouped-{i}")

@pytest.mark.parametrize("i", range(8))
def test_free(i):
    record(f"free-{i}")
'''


def test_a_group_runs_on_one_worker(tmp_path):
    (tmp_path / "test_scratch.py").write_text(SCRATCH)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "tests.xdist_groups", "-n", "2", "--dist", "loadgroup",
                           "test_scratch.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    workers = {name: (tmp_path / name).read_text() for name in os.listdir(tmp_path)
               if name.startswith(("grouped-", "free-"))}
    assert len(workers) == 16
    assert len({w for n, w in workers.items() if n.startswith("grouped-")}) == 1, workers
    assert len(set(workers.values())) == 2  # both workers did run tests

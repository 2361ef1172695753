"""Fixtures: one SavedModel (stand_in.build_export), fake TF Serving servers over it, and a
runner for the clients in export/ as subprocesses."""
import os
import subprocess
import sys

import pytest

from tests.export_material import stand_in
from tests.export_material.fake_serving import Backend, FakeRestServer
# Not tests.helpers.REPO: that module imports the bert2bert package, which none of this needs.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPORT = os.path.join(REPO, "export")


@pytest.fixture(scope="session")
def version_dir(tmp_path_factory):
    return stand_in.build_export(str(tmp_path_factory.mktemp("export")))


@pytest.fixture(scope="session")
def backend(version_dir):
    return Backend(version_dir)


@pytest.fixture(scope="session")
def _rest_server(backend):
    with FakeRestServer(backend) as server:
        yield server


@pytest.fixture
def rest_server(_rest_server):
    """The fake REST server, with an empty request log and no delay for each test."""
    _rest_server.backend.requests.clear()
    _rest_server.backend.delay = 0.0
    yield _rest_server
    _rest_server.backend.delay = 0.0


def run_client(script, *args, stdin="", env=None, timeout=120):
    """Run export/<script> with this Python; returns the CompletedProcess (text decoded as UTF-8)."""
    result = subprocess.run([sys.executable, os.path.join(EXPORT, script), *map(str, args)],
                            input=stdin.encode("utf-8"), capture_output=True, timeout=timeout,
                            env=env, cwd=REPO)
    result.stdout = result.stdout.decode("utf-8")
    result.stderr = result.stderr.decode("utf-8")
    return result

"""Shared fixtures for reference tests: the helix binary, the default model, shared test data."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _helix_bin():
    b = os.environ.get("HELIX_BIN")
    if b:
        return b
    return str(ROOT / "build" / "helix")


@pytest.fixture(scope="session")
def helix_bin():
    b = _helix_bin()
    if not os.path.exists(b):
        pytest.fail(f"helix binary not found at {b}; build first (scripts/test.sh)")
    return b


@pytest.fixture(scope="session")
def testdata():
    return pathlib.Path(os.environ.get("HELIX_TESTDATA", ROOT.parent / "shared" / "testdata"))


@pytest.fixture(scope="session")
def default_model():
    """Path of the default model installed by scripts/setup.sh (fails, not skips, if absent)."""
    p = os.environ.get("HELIX_MODEL") or os.path.join(
        os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")),
        "helix", "models", "default.gguf")
    if not os.path.exists(p):
        pytest.fail(f"default model missing at {p}; run scripts/setup.sh")
    return p


def run_helix(helix_bin, *args, input=None, check=True):
    """Runs helix with args; returns CompletedProcess with bytes stdout/stderr."""
    r = subprocess.run([helix_bin, *map(str, args)], input=input, capture_output=True, timeout=1200)
    if check and r.returncode != 0:
        raise AssertionError(f"helix {' '.join(map(str, args))} failed ({r.returncode}): "
                             f"{r.stderr.decode(errors='replace')}")
    return r

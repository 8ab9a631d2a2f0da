"""Shared fixtures for reference tests: the helix binary, the default model, shared test data."""
import http.client
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time

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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(helix_bin, model, *extra):
    """Starts `helix serve` on a free loopback port (context 1024); returns (process, port) once
    /health answers. Its stderr (one log line per request) goes to a file, never a pipe that
    nobody reads: server_log(proc) returns what it wrote so far."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="helix-serve-", suffix=".log", delete=False)
    proc = subprocess.Popen([helix_bin, "serve", "-m", model, "--port", str(port), "-c", "1024", *extra],
                            stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    proc.log_path = log.name
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"helix serve exited: {server_log(proc)}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("helix serve did not come up")


def server_log(proc):
    """What a server started by start_server() has written to stderr so far."""
    with open(proc.log_path, errors="replace") as f:
        return f.read()


def stop_server(proc):
    """SIGTERM (the server drains), then kill if it does not exit within a minute."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def openai_client(port, key="none", **kw):
    """The official openai client against a local `helix serve` (no retries: errors surface)."""
    import openai
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0,
                         **{"timeout": 300, **kw})


def run_concurrently(fn, args):
    """fn(a) for every a in args, each on its own thread, all at once; the results in order."""
    import threading
    results = [None] * len(args)

    def work(i):
        results[i] = fn(args[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results

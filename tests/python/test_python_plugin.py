"""The `python` built-in plugin (issue 16): model-written code run in src/sandbox. Off until
`helix plugin enable python`; then driven through `helix plugin test python --call python`, the
server's "plugins": ["python"] tool loop (openai client) and `helix mcp` (the reference `mcp`
client). Ordinary code returns stdout/stderr/exit status; network, host files, writes outside /tmp,
fork bombs, memory hogs, endless loops and floods of output are each stopped with a clear error.
Where the kernel refuses the namespaces, the result carries sandbox_notes and the file tests skip."""
import asyncio
import json
import os
import subprocess

import pytest



@pytest.fixture
def pdir(tmp_path, monkeypatch):
    d = tmp_path / "plugins"
    monkeypatch.setenv("HELIX_PLUGINS_DIR", str(d))
    return d


def helix(helix_bin, *args, input=None, timeout=300):
    return subprocess.run([helix_bin, *map(str, args)], input=input, capture_output=True, text=True, timeout=timeout)


def run(helix_bin, code, **extra):
    """One call of the tool; returns (ok, the tool's JSON result)."""
    r = helix(helix_bin, "plugin", "test", "python", "--json", "--call", "python",
              "--args", json.dumps({"code": code, **extra}))
    assert r.stdout.strip(), r.stderr
    call = json.loads(r.stdout)["calls"][0]
    return call["ok"], json.loads(call["result"])


def test_off_until_enabled(helix_bin, pdir):
    r = helix(helix_bin, "plugin", "test", "python")
    assert r.returncode != 0 and "helix plugin enable python" in r.stderr, r.stderr
    assert "(off: helix plugin enable python)" in helix(helix_bin, "plugin", "list").stdout
    r = helix(helix_bin, "plugin", "enable", "python", "--cpu-s", "2", "--memory-mb", "128")
    assert r.returncode == 0, r.stderr
    assert "cpu_s = 2" in r.stdout and "memory_mb = 128" in r.stdout
    assert (pdir / "builtins" / "python.toml").exists()
    assert "Sandboxed Python 3 (enabled)" in helix(helix_bin, "plugin", "list").stdout
    lst = json.loads(helix(helix_bin, "plugin", "list", "--json").stdout)
    assert "python" in [p["name"] for p in lst]
    ok, res = run(helix_bin, "print(6 * 7)")
    assert ok and res == {"exit_code": 0, "stdout": "42\n", "stderr": ""} or res.get("sandbox_notes"), res
    assert helix(helix_bin, "plugin", "disable", "python").returncode == 0
    assert helix(helix_bin, "plugin", "test", "python").returncode != 0
    # Limits are checked when set.
    r = helix(helix_bin, "plugin", "enable", "python", "--memory-mb", "4")
    assert r.returncode != 0 and "memory_mb must be from 32" in r.stderr, r.stderr
    r = helix(helix_bin, "plugin", "enable", "python", "--cpu-seconds", "4")
    assert r.returncode != 0 and "no setting 'cpu_seconds'" in r.stderr, r.stderr


def test_ordinary_code_and_refusals(helix_bin, pdir):
    assert helix(helix_bin, "plugin", "enable", "python", "--output-kb", "4", "--wall-s", "60").returncode == 0
    ok, res = run(helix_bin, "import json, math, re, sys\n"
                             "print(json.dumps({'f': math.factorial(12), 'm': re.findall('[a-z]+', 'ab 12 cd')}))\n"
                             "print(sys.stdin.read()[::-1], file=sys.stderr)", stdin="olleh")
    assert ok, res
    assert json.loads(res["stdout"]) == {"f": 479001600, "m": ["ab", "cd"]}
    assert res["stderr"] == "hello\n" and res["exit_code"] == 0
    isolated = "sandbox_notes" not in res

    ok, res = run(helix_bin, "import sys\nprint('partial')\nsys.exit(4)")
    assert not ok and res["exit_code"] == 4 and res["stdout"] == "partial\n" and "status 4" in res["error"]

    ok, res = run(helix_bin, "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)")
    assert not ok and "refused by the sandbox" in res["error"], res

    ok, res = run(helix_bin, "import os\nos.fork()")
    assert not ok and "Operation not permitted" in res["error"], res

    ok, res = run(helix_bin, "x = bytearray(2 ** 40)")
    assert not ok and "memory limit" in res["error"], res

    ok, res = run(helix_bin, "while True:\n    print('y' * 100)")
    assert not ok and "output limit" in res["error"] and len(res["stdout"]) == 4096, res["error"]

    ok, res = run(helix_bin, "while True:\n    pass")
    assert not ok and ("CPU limit" in res["error"] or "wall-clock" in res["error"]), res

    if not isolated:
        pytest.skip("the kernel refused namespaces here; host files are visible: " + "; ".join(res["sandbox_notes"]))
    home = os.path.expanduser("~")
    for code in ("print(open('/etc/passwd').read())", f"import os\nprint(os.listdir({home + '/.ssh'!r}))"):
        ok, res = run(helix_bin, code)
        assert not ok and res["stdout"] == "" and "No such file or directory" in res["error"], res
    ok, res = run(helix_bin, "open('/usr/evil', 'w')")
    assert not ok and "only /tmp is writable" in res["error"], res


def test_server_tool_loop_runs_python(helix_bin, default_model, pdir):
    from conftest import openai_client, start_server, stop_server
    assert helix(helix_bin, "plugin", "enable", "python").returncode == 0
    proc, port = start_server(helix_bin, default_model)
    try:
        c = openai_client(port)
        r = c.chat.completions.create(model="default", temperature=0, max_tokens=16,
                                      messages=[{"role": "user", "content": "Print 2 to the power 10 with Python."}],
                                      tool_choice={"type": "function", "function": {"name": "python"}},
                                      extra_body={"plugins": ["python"], "max_plugin_steps": 2})
        calls = r.model_extra["plugin_calls"]
        assert len(calls) == 1 and calls[0]["plugin"] == "python" and calls[0]["tool"] == "python", calls
        res = json.loads(calls[0]["result"])  # whatever the small model wrote, it ran in the sandbox
        assert set(res) >= {"exit_code", "stdout", "stderr"}, res
        assert isinstance(json.loads(calls[0]["arguments"])["code"], str)
        # The same server's /mcp (streamable HTTP) offers the tool as well.
        mcp = pytest.importorskip("mcp")

        async def over_http():
            async with mcp.Client(f"http://127.0.0.1:{port}/mcp") as m:
                assert "python" in {t.name for t in (await m.list_tools()).tools}
                return await m.call_tool("python", {"code": "x = 6\nx * 7"})
        res = asyncio.run(over_http())
        assert not res.is_error and res.structured_content["stdout"] == "42\n", res
    finally:
        stop_server(proc)


def test_mcp_offers_python_once_enabled(helix_bin, default_model, pdir):
    mcp = pytest.importorskip("mcp")
    params = mcp.StdioServerParameters(command=helix_bin, args=["mcp", "-m", default_model, "-c", "512", "--no-embed",
                                                                "--no-adapter"],
                                       env={**os.environ, "HELIX_PLUGINS_DIR": str(pdir)})

    async def tools():
        async with mcp.Client(params) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            if "python" not in names:
                return names, None, None
            good = await c.call_tool("python", {"code": "print(sum(range(101)))"})
            bad = await c.call_tool("python", {"code": "open('/etc/shadow')"})
            return names, good, bad

    names, _, _ = asyncio.run(tools())
    assert "python" not in names  # off by default
    assert helix(helix_bin, "plugin", "enable", "python").returncode == 0
    names, good, bad = asyncio.run(tools())
    assert "python" in names
    assert not good.is_error and good.structured_content["stdout"] == "5050\n", good
    assert bad.is_error and "No such file or directory" in bad.structured_content["error"] or \
        bad.structured_content.get("sandbox_notes"), bad

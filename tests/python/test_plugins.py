"""Plugins Helix runs itself (issue 16), against real things:
- an MCP server built on PyPI's reference `mcp` package (tests/python/plugins/mcp_server.py),
  started by Helix over stdio and by the test over streamable HTTP;
- a real OpenAPI service on http.server with its OpenAPI document (plugins/weather_api.py);
- the calculator against Python's fractions.Fraction (exact rationals), the datetime plugin
  against zoneinfo (the same tzdata);
- failure paths the reference server does not produce (garbage on stdout, an unknown protocol
  version, paginated tools/list) with a hand-written JSON-RPC peer (plugins/raw_mcp.py);
- the tool loop through `helix chat --plugins` on the default model, with a forced first call
  (the 270M base model does not call tools reliably on its own).
Executors are driven through `helix plugin test NAME --call TOOL --args JSON --json`."""
import json
import os
import random
import subprocess
import sys
import time
import urllib.request
import zoneinfo
from datetime import datetime
from fractions import Fraction

import pytest

from conftest import ROOT, free_port

PLUG = ROOT / "tests" / "python" / "plugins"


@pytest.fixture
def pdir(tmp_path, monkeypatch):
    d = tmp_path / "plugins"
    monkeypatch.setenv("HELIX_PLUGINS_DIR", str(d))
    return d


def helix(helix_bin, *args, input=None, timeout=300, env=None):
    return subprocess.run([helix_bin, *map(str, args)], input=input, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def call(helix_bin, name, *calls, env=None):
    """helix plugin test NAME --call T --args A ... --json -> (the JSON output, return code)."""
    args = ["plugin", "test", name, "--json"]
    for tool, a in calls:
        args += ["--call", tool, "--args", json.dumps(a)]
    r = helix(helix_bin, *args, env=env)
    assert r.stdout.strip(), r.stderr
    return json.loads(r.stdout), r.returncode


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


# ---- calculator and datetime against Python's own ------------------------------------------

def rand_expr(rng, depth=0):
    if depth > 3 or rng.random() < 0.3:
        n = rng.choice([str(rng.randint(0, 10**rng.randint(1, 25))), f"{rng.randint(0, 999)}.{rng.randint(0, 999):03d}"])
        return n
    op = rng.choice(["+", "-", "*", "/"])
    return f"({rand_expr(rng, depth + 1)} {op} {rand_expr(rng, depth + 1)})"


def test_calculator_is_exact_against_fractions(helix_bin, pdir):
    rng = random.Random(16)
    exprs, want = [], []
    while len(exprs) < 40:
        e = rand_expr(rng)
        try:
            v = eval(__import__("re").sub(r"(\d+(?:\.\d+)?)", r"Fraction('\1')", e), {"Fraction": Fraction})
        except ZeroDivisionError:
            continue
        exprs.append(e)
        want.append(v)
    out, rc = call(helix_bin, "calculator", *[("calculate", {"expression": e}) for e in exprs])
    assert rc == 0
    for c, v in zip(out["calls"], want):
        res = json.loads(c["result"])["result"]
        got = Fraction(res) if "/" in res else Fraction(res)
        assert got == v, (c["arguments"], res, v)
    out, rc = call(helix_bin, "calculator", ("calculate", {"expression": "0.1 + 0.2"}),
                   ("calculate", {"expression": "2^200 - 1"}), ("calculate", {"expression": "10 / (5 - 5)"}))
    assert rc == 1
    r = [c["result"] for c in out["calls"]]
    assert json.loads(r[0])["result"] == "0.3"
    assert json.loads(r[1])["result"] == str(2**200 - 1)
    assert not out["calls"][2]["ok"] and "division by zero" in r[2]


def test_datetime_matches_zoneinfo(helix_bin, pdir):
    cases = [("2026-03-29T09:30", "Europe/Paris", "America/New_York"),
             ("2026-11-01T01:30", "UTC", "America/Los_Angeles"),
             ("2026-07-04T12:00", "Asia/Kolkata", "Australia/Lord_Howe"),
             ("2026-12-31T23:59:59", "Pacific/Kiritimati", "Pacific/Niue")]
    out, rc = call(helix_bin, "datetime", *[("convert_time", {"time": t, "from_timezone": f, "to_timezone": to})
                                            for t, f, to in cases])
    assert rc == 0
    for (t, f, to), c in zip(cases, out["calls"]):
        want = datetime.fromisoformat(t).replace(tzinfo=zoneinfo.ZoneInfo(f)).astimezone(zoneinfo.ZoneInfo(to))
        assert json.loads(c["result"])["local_time"] == want.isoformat(), (t, f, to, c["result"])
    out, rc = call(helix_bin, "datetime", ("current_time", {"timezone": "Atlantis/Lost"}))
    assert rc == 1 and "unknown time zone 'Atlantis/Lost'" in out["calls"][0]["result"]


def test_kb_search(helix_bin, pdir, tmp_path):
    kb = tmp_path / "kb"
    (tmp_path / "garden.txt").write_text("The Helix plant waters the garden every Tuesday at 7am.\n")
    (tmp_path / "kitchen.txt").write_text("The kitchen oven is cleaned on Fridays.\n")
    assert helix(helix_bin, "kb", "create", "home", "--kb-dir", kb).returncode == 0
    assert helix(helix_bin, "kb", "add", "home", tmp_path / "garden.txt", tmp_path / "kitchen.txt", "--kb-dir", kb).returncode == 0
    r = helix(helix_bin, "plugin", "test", "kb", "--kb-dir", kb, "--json", "--call", "search_knowledge_base", "--args",
              json.dumps({"kb": "home", "query": "when is the garden watered", "k": 1}),
              "--call", "search_knowledge_base", "--args", json.dumps({"kb": "nope", "query": "x"}))
    c = json.loads(r.stdout)["calls"]
    hits = json.loads(c[0]["result"])["passages"]
    assert len(hits) == 1 and hits[0]["doc"].endswith("garden.txt") and "Tuesday" in hits[0]["text"]
    assert not c[1]["ok"] and "no knowledge base 'nope'" in c[1]["result"]


# ---- manifests -----------------------------------------------------------------------------

def test_add_list_rm(helix_bin, pdir):
    r = helix(helix_bin, "plugin", "add", "tools", "--mcp-command", f"{sys.executable} {PLUG / 'mcp_server.py'} stdio",
              "--description", "test tools", "--auth-env", "SOME_KEY", "--allow-tool", "add")
    assert r.returncode == 0, r.stderr
    text = (pdir / "tools.toml").read_text()
    assert 'env = "SOME_KEY"' in text and "SOME_KEY=" not in text
    listed = json.loads(helix(helix_bin, "plugin", "list", "--json").stdout)
    assert [p["name"] for p in listed] == ["calculator", "datetime", "kb", "python", "chatfile", "tools"]
    r = helix(helix_bin, "plugin", "add", "tools", "--mcp-url", "http://127.0.0.1:1/mcp")
    assert r.returncode != 0 and "exists already" in r.stderr
    r = helix(helix_bin, "plugin", "add", "bad", "--openapi", "x.json", "--mcp-url", "http://h/")
    assert r.returncode != 0 and "exactly one of" in r.stderr
    r = helix(helix_bin, "plugin", "add", "calculator", "--mcp-url", "http://h/")
    assert r.returncode != 0 and "built-in" in r.stderr
    assert helix(helix_bin, "plugin", "rm", "tools").returncode == 0
    r = helix(helix_bin, "plugin", "test", "tools")
    assert r.returncode != 0 and "no plugin named 'tools'" in r.stderr


# ---- MCP: the reference server over stdio and streamable HTTP ------------------------------

def test_mcp_stdio_reference_server(helix_bin, pdir):
    cmd = f"{sys.executable} {PLUG / 'mcp_server.py'} stdio"
    assert helix(helix_bin, "plugin", "add", "ref", "--mcp-command", cmd, "--auth-env", "MCP_API_KEY",
                 "--timeout", "3").returncode == 0
    env = {"MCP_API_KEY": "sk-test-0123456789"}
    out, rc = call(helix_bin, "ref", ("add", {"a": 2, "b": 40}), ("shout", {"text": "héllo"}), ("secret_echo", {}),
                   ("crash", {}), ("add", {"a": 1, "b": 1}), ("slow", {"seconds": 10}), ("shout", {"text": "again"}),
                   ("delete_everything", {}), env=env)
    names = {t["name"] for t in out["tools"]}
    assert {"add", "shout", "notes", "slow", "crash", "delete_everything"} <= names
    assert [t["write"] for t in out["tools"] if t["name"] == "delete_everything"] == [True]
    c = out["calls"]
    assert c[0]["ok"] and c[0]["result"] == "42"
    assert c[1]["result"] == "HÉLLO"
    # The key reaches the stdio server in its environment, but never comes back to the model.
    assert "sk-test-0123456789" not in c[2]["result"] and "[redacted]" in c[2]["result"]
    # A crash is a clear error, and the next call starts the server again.
    assert not c[3]["ok"] and "exited with status 3" in c[3]["result"], c[3]
    assert c[4]["ok"] and c[4]["result"] == "2"
    # A hang ends at the timeout (3 s), and the conversation goes on.
    assert not c[5]["ok"] and "within 3 s" in c[5]["result"] and c[5]["seconds"] < 6
    assert c[6]["ok"] and c[6]["result"] == "AGAIN"
    # Tools that change things need permissions.write.
    assert not c[7]["ok"] and "permissions.write" in c[7]["result"]
    assert "sk-test-0123456789" not in json.dumps(out)


@pytest.fixture
def mcp_http():
    port = free_port()
    p = subprocess.Popen([sys.executable, str(PLUG / "mcp_server.py"), "http", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/mcp")
    yield f"http://127.0.0.1:{port}/mcp"
    p.kill()
    p.wait()


def test_mcp_streamable_http_reference_server(helix_bin, pdir, mcp_http):
    assert helix(helix_bin, "plugin", "add", "web", "--mcp-url", mcp_http, "--allow-write").returncode == 0
    out, rc = call(helix_bin, "web", ("add", {"a": -5, "b": 7}), ("notes", {"topic": "rain"}),
                   ("delete_everything", {}), ("no_such", {}))
    c = out["calls"]
    assert c[0]["result"] == "2"
    assert c[1]["result"].startswith("Notes on rain")
    assert c[2]["ok"] and c[2]["result"] == "deleted"  # allowed by --allow-write
    assert not c[3]["ok"] and "no tool named 'no_such'" in c[3]["result"]


def test_mcp_failures_are_clear(helix_bin, pdir, tmp_path):
    raw = f"{sys.executable} {PLUG / 'raw_mcp.py'}"
    for name, mode in [("garbage", "garbage"), ("badver", "badversion"), ("pages", "paginate"), ("old", "oldversion")]:
        assert helix(helix_bin, "plugin", "add", name, "--mcp-command", f"{raw} {mode}", "--timeout", "5").returncode == 0
    r = helix(helix_bin, "plugin", "test", "garbage")
    assert r.returncode != 0 and "not JSON-RPC: 'Starting server... ready!'" in r.stderr
    r = helix(helix_bin, "plugin", "test", "badver")
    assert r.returncode != 0 and "protocol version '1999-01-01'" in r.stderr and "2025-11-25" in r.stderr
    out, _ = call(helix_bin, "pages")
    assert [t["name"] for t in out["tools"]] == [f"tool_{p}_{i}" for p in range(3) for i in range(2)]
    log = tmp_path / "raw.log"
    out, rc = call(helix_bin, "old", ("tool_0_1", {}), env={"RAW_MCP_LOG": str(log)})
    assert rc == 0 and out["calls"][0]["result"] == "called tool_0_1"
    sent = [json.loads(x) for x in log.read_text().splitlines()]
    assert [m["method"] for m in sent] == ["initialize", "notifications/initialized", "tools/list", "tools/call"]
    assert sent[0]["params"]["protocolVersion"] == "2025-11-25"  # offered the newest, accepted the server's older one


# ---- OpenAPI: a real service with its document ---------------------------------------------

weather_other = {}  # the weather fixture's port -> the port of its 127.0.0.2 twin


def free_port_on_both():
    import socket
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.2", port))
            return port
        except OSError:
            continue
    raise AssertionError("no port free on both 127.0.0.1 and 127.0.0.2")


@pytest.fixture
def weather(tmp_path):
    port = free_port()
    env = {**os.environ, "WEATHER_KEY": "wk-secret-42"}
    p = subprocess.Popen([sys.executable, str(PLUG / "weather_api.py"), str(port)], env=env)
    # The same service on 127.0.0.2, whose document (served from 127.0.0.1) names 127.0.0.2. Its
    # port is one that is free on both addresses (port + 1 could belong to a test running beside).
    other = str(free_port_on_both())
    weather_other[port] = int(other)
    q = subprocess.Popen([sys.executable, str(PLUG / "weather_api.py"), other, "127.0.0.2"], env=env)
    s = subprocess.Popen([sys.executable, str(PLUG / "weather_api.py"), other, "127.0.0.2", "127.0.0.2"], env=env)
    wait_http(f"http://127.0.0.1:{port}/openapi.json")
    yield port
    for x in (p, q, s):
        x.kill()
        x.wait()


def test_openapi_weather_service(helix_bin, pdir, weather):
    url = f"http://127.0.0.1:{weather}/openapi.json"
    assert helix(helix_bin, "plugin", "add", "weather", "--openapi", url, "--auth-type", "header", "--auth-name",
                 "X-API-Key", "--auth-env", "WEATHER_KEY", "--timeout", "2", "--max-response-bytes", "65536").returncode == 0
    env = {"WEATHER_KEY": "wk-secret-42"}
    out, rc = call(helix_bin, "weather", ("get_forecast", {"city": "São Paulo", "days": 2, "units": "imperial"}),
                   ("echo_key", {}), ("huge", {}), ("hang", {}), ("post_alert", {"body": {"city": "X", "text": "storm"}}),
                   ("get_forecast", {"days": 1}), env=env)
    tools = {t["name"]: t for t in out["tools"]}
    assert set(tools) == {"get_forecast", "echo_key", "huge", "hang", "post_alert"}
    p = tools["get_forecast"]["parameters"]
    assert p["required"] == ["city"] and p["properties"]["units"]["enum"] == ["metric", "imperial"]
    c = out["calls"]
    f = json.loads(c[0]["result"])
    assert f["city"] == "São Paulo" and f["units"] == "imperial" and len(f["days"]) == 2
    assert "wk-secret-42" not in c[1]["result"] and "[redacted]" in c[1]["result"]
    assert not c[2]["ok"] and "larger than the plugin's limit of 65536 bytes" in c[2]["result"]
    assert not c[3]["ok"] and "within 2 s" in c[3]["result"] and c[3]["seconds"] < 5
    assert not c[4]["ok"] and "permissions.write" in c[4]["result"]
    assert not c[5]["ok"] and "'city' is required" in c[5]["result"]
    assert "wk-secret-42" not in json.dumps(out)
    # Without the key the service says 401, and Helix passes that on as a tool error.
    out, rc = call(helix_bin, "weather", ("get_forecast", {"city": "Oslo"}), env={"WEATHER_KEY": "wrong"})
    assert rc == 1 and out["calls"][0]["result"].startswith("HTTP 401")
    # No key in the environment: a clear error before any call.
    r = helix(helix_bin, "plugin", "test", "weather", env={"WEATHER_KEY": ""})
    assert r.returncode != 0 and "WEATHER_KEY, which is not set" in r.stderr


def test_openapi_only_allowed_hosts(helix_bin, pdir, weather):
    other = weather_other[weather]
    # The second service's document names 127.0.0.2 as its server: not the host it came from.
    wait_http(f"http://127.0.0.1:{other}/openapi.json")
    wait_http(f"http://127.0.0.2:{other}/openapi.json")
    assert helix(helix_bin, "plugin", "add", "elsewhere", "--openapi", f"http://127.0.0.1:{other}/openapi.json",
                 "--auth-type", "header", "--auth-name", "X-API-Key", "--auth-env", "WEATHER_KEY").returncode == 0
    r = helix(helix_bin, "plugin", "test", "elsewhere", env={"WEATHER_KEY": "wk-secret-42"})
    assert r.returncode != 0 and "host 127.0.0.2 is not allowed" in r.stderr, r.stderr
    assert helix(helix_bin, "plugin", "add", "elsewhere2", "--openapi", f"http://127.0.0.1:{other}/openapi.json",
                 "--allow-host", "127.0.0.2", "--auth-type", "header", "--auth-name", "X-API-Key",
                 "--auth-env", "WEATHER_KEY").returncode == 0
    out, rc = call(helix_bin, "elsewhere2", ("get_forecast", {"city": "Oslo"}), env={"WEATHER_KEY": "wk-secret-42"})
    assert rc == 0 and json.loads(out["calls"][0]["result"])["city"] == "Oslo"


# ---- the tool loop through helix chat ------------------------------------------------------

def test_chat_runs_the_loop(helix_bin, pdir, default_model):
    r = helix(helix_bin, "chat", "-m", default_model, "--plugins", "calculator", "--tool-choice", "required",
              "--temp", "0", "-n", "64", "--max-tool-steps", "2", "--no-adapter",
              input="What is 0.1 + 0.2? Use the calculator.\n")
    assert r.returncode == 0, r.stderr
    assert "plugins: 1 tools (calculate)" in r.stderr
    line = [x for x in r.stdout.splitlines() if x.startswith("[calculator.calculate ")]
    assert len(line) == 1, r.stdout
    args = json.loads(line[0][len("[calculator.calculate "):line[0].index(" -> ")])
    want = eval(__import__("re").sub(r"(\d+(?:\.\d+)?)", r"Fraction('\1')", args["expression"]), {"Fraction": Fraction})
    assert f'"result":"{want}"' in line[0] or f'"result":"{float(want)}"' in line[0], line[0]


def test_chat_tool_output_is_data(helix_bin, pdir, default_model, tmp_path):
    """The notes tool returns prompt-injection text with the model's control tokens and a fake
    tool call. Helix defuses the control tokens (checked with llama.cpp's tokenizer on the saved
    conversation: the tool message holds none, the raw result does) and runs only the model's
    own calls (delete_everything is never called)."""
    import llama_cpp
    cmd = f"{sys.executable} {PLUG / 'mcp_server.py'} stdio"
    assert helix(helix_bin, "plugin", "add", "ref", "--mcp-command", cmd, "--allow-write").returncode == 0
    saved = tmp_path / "conv.json"
    r = helix(helix_bin, "chat", "-m", default_model, "--plugins", "ref", "--tool-choice", "notes", "--temp", "0",
              "-n", "48", "--max-tool-steps", "3", "--no-adapter",
              input=f"Read my notes about the meeting.\n/save {saved}\n")
    assert r.returncode == 0, r.stderr
    assert "delete_everything" not in [x.split()[0][len("[ref."):] for x in r.stdout.splitlines() if x.startswith("[ref.")]
    conv = json.loads(saved.read_text())
    tool_msgs = [m for m in conv if m["role"] == "tool"]
    assert tool_msgs and "IGNORE ALL PREVIOUS INSTRUCTIONS" in tool_msgs[0]["content"]
    llm = llama_cpp.Llama(model_path=default_model, vocab_only=True, verbose=False)
    control = {llm.token_bos(), llm.token_eos()} | {t for t in range(llm.n_vocab())
                                                   if llm.detokenize([t], special=True).decode(errors="replace")
                                                   in ("<start_of_turn>", "<end_of_turn>")}
    raw = call(helix_bin, "ref", ("notes", {"topic": "x"}))[0]["calls"][0]["result"]
    assert control & set(llm.tokenize(raw.encode(), add_bos=False, special=True)), "the raw result has control tokens"
    for m in tool_msgs:
        assert not control & set(llm.tokenize(m["content"].encode(), add_bos=False, special=True)), m["content"]


# ---- the tool loop in the server, through the openai client --------------------------------

@pytest.fixture(scope="module")
def plugin_server(helix_bin, default_model, tmp_path_factory):
    from conftest import start_server, stop_server
    d = tmp_path_factory.mktemp("served_plugins")
    old = os.environ.get("HELIX_PLUGINS_DIR")
    os.environ["HELIX_PLUGINS_DIR"] = str(d)
    cmd = f"{sys.executable} {PLUG / 'mcp_server.py'} stdio"
    assert helix(helix_bin, "plugin", "add", "ref", "--mcp-command", cmd, "--timeout", "5").returncode == 0
    proc, port = start_server(helix_bin, default_model)
    yield port
    stop_server(proc)
    if old is None:
        del os.environ["HELIX_PLUGINS_DIR"]
    else:
        os.environ["HELIX_PLUGINS_DIR"] = old


def test_server_runs_the_loop(plugin_server):
    from conftest import openai_client
    c = openai_client(plugin_server)
    ask = [{"role": "user", "content": "What is 1/3 + 1/6? Use the calculator."}]
    r = c.chat.completions.create(model="default", messages=ask, tool_choice="required", temperature=0, max_tokens=32,
                                  extra_body={"plugins": ["calculator"], "max_plugin_steps": 2})
    calls = r.model_extra["plugin_calls"]
    assert len(calls) == 1 and calls[0]["plugin"] == "calculator" and calls[0]["ok"], calls
    expr = json.loads(calls[0]["arguments"])["expression"]
    want = eval(__import__("re").sub(r"(\d+(?:\.\d+)?)", r"Fraction('\1')", expr), {"Fraction": Fraction})
    got = json.loads(calls[0]["result"])["result"]
    assert Fraction(got) == want
    assert isinstance(r.choices[0].message.content, str) and not r.choices[0].message.tool_calls
    # Streamed: the answer as deltas, the calls on the last chunk.
    s = c.chat.completions.create(model="default", messages=ask, tool_choice="required", temperature=0, max_tokens=16,
                                  stream=True, extra_body={"plugins": ["calculator"], "max_plugin_steps": 2})
    last = None
    for chunk in s:
        if chunk.model_extra.get("plugin_calls") is not None:
            last = chunk.model_extra["plugin_calls"]
    assert last and last[0]["tool"] == "calculate" and last[0]["ok"]


def test_server_plugin_failures_keep_the_conversation(plugin_server):
    from conftest import openai_client
    c = openai_client(plugin_server)
    ask = [{"role": "user", "content": "Run the tool."}]
    r = c.chat.completions.create(model="default", messages=ask, temperature=0, max_tokens=16,
                                  tool_choice={"type": "function", "function": {"name": "crash"}},
                                  extra_body={"plugins": ["ref"], "max_plugin_steps": 2})
    calls = r.model_extra["plugin_calls"]
    assert len(calls) == 1 and not calls[0]["ok"] and "exited with status 3" in calls[0]["result"]
    assert r.choices[0].finish_reason in ("stop", "length")
    # The server reconnects: the same plugin works on the next request.
    r = c.chat.completions.create(model="default", messages=[{"role": "user", "content": "Add 2 and 3."}],
                                  temperature=0, max_tokens=8, tool_choice={"type": "function", "function": {"name": "add"}},
                                  extra_body={"plugins": ["ref"], "max_plugin_steps": 2})
    calls = r.model_extra["plugin_calls"]
    assert calls, "no call"
    args = json.loads(calls[0]["arguments"])
    assert calls[0]["ok"] and calls[0]["result"] == str(args["a"] + args["b"])
    import openai
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="default", messages=ask, max_tokens=4, extra_body={"plugins": ["nope"]})
    assert "no plugin named 'nope'" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="default", messages=ask, max_tokens=4, extra_body={"plugins": ["calculator"]},
                                  tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])
    assert "not both" in str(e.value)


def test_mcp_http_sends_the_auth_header(helix_bin, pdir, weather):
    """The weather service checks X-API-Key on POST: with the key Helix gets past it (and then finds
    no MCP server there), without it the service's 401 becomes a message about the key."""
    assert helix(helix_bin, "plugin", "add", "keyed", "--mcp-url", f"http://127.0.0.1:{weather}/mcp", "--auth-type",
                 "header", "--auth-name", "X-API-Key", "--auth-env", "WEATHER_KEY").returncode == 0
    r = helix(helix_bin, "plugin", "test", "keyed", env={"WEATHER_KEY": "wk-secret-42"})
    assert r.returncode != 0 and "without a JSON-RPC response" in r.stderr, r.stderr
    r = helix(helix_bin, "plugin", "test", "keyed", env={"WEATHER_KEY": "wrong-key-123"})
    assert r.returncode != 0 and "HTTP 401" in r.stderr and "[auth] key" in r.stderr and "wrong-key-123" not in r.stderr

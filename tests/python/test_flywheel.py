"""The flywheel end to end, through the real server, the real openai client and real files:

- hot switch (tiny llama): requests stream continuously under the named adapter ALIAS:fw while
  POST /v1/adapters switches it to another file; none fails, answers that started before the switch
  are the old adapter's (a stream that spans the switch stays on the old adapter to its end), and
  answers started after it are the new one's (both compared with `helix run --lora FILE`). The new
  adapter carries a chat template (helix.chat_template), and chat requests that pick it are rendered
  with it. The admin route needs the API key, or a loopback client when the server has none.
- a flywheel round (default model): serve with --feedback-db and --flywheel-db, chat through the
  openai client, correct the answers with POST /v1/feedback, `helix flywheel run` a recipe that
  exports the feedback, trains a few steps from the promoted adapter, evaluates current vs candidate
  and promotes by its rule (held-out loss on the corrected answers down by 0.2: 12 steps are too few
  for exact matches); the run is killed with SIGKILL mid-training and rerun (it resumes, and
  nothing was promoted by the killed run); the server switches to the promotion by itself and its
  answers change; `helix flywheel rollback` switches it back; both SQLite files pass integrity_check.
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time

import httpx
import pytest

from conftest import openai_client, run_helix, server_log, start_server, stop_server

PROMPTS = ["hello world", "the cat", "a b c d", "once upon"]
TEMPLATE = "{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}=>"


def _adapters(port, key=None):
    h = {"Authorization": f"Bearer {key}"} if key else {}
    r = httpx.get(f"http://127.0.0.1:{port}/v1/adapters", headers=h, timeout=30)
    assert r.status_code == 200, r.text
    return {a["name"]: a for a in r.json()["data"]}


def _switch(host, port, name, path, key=None):
    h = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"http://{host}:{port}/v1/adapters", json={"name": name, "path": str(path)}, headers=h, timeout=60)


@pytest.fixture(scope="module")
def tiny(helix_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("flywheel_tiny")
    base = str(d / "tiny.gguf")
    run_helix(helix_bin, "tiny-model", "llama", base, "--seed", "7")
    tmpl = d / "tmpl.jinja"
    tmpl.write_text(TEMPLATE)
    old, new = d / "old.gguf", d / "new.gguf"
    run_helix(helix_bin, "lora", "random", base, old, "--rank", "8", "--std", "0.2", "--seed", "1")
    run_helix(helix_bin, "lora", "random", base, new, "--rank", "8", "--std", "0.2", "--seed", "2",
              "--chat-template", tmpl)
    return base, old, new


def _reference(helix_bin, base, adapter, prompt, n):
    return run_helix(helix_bin, "run", "-m", base, "-p", prompt, "-n", str(n), "--temp", "0",
                     "--lora", str(adapter)).stdout.decode()


def test_hot_switch_while_streaming(helix_bin, tiny):
    base, old, new = tiny
    n_short, n_long = 16, 900
    ref = {(a, p): _reference(helix_bin, base, path, p, n_short) for a, path in (("old", old), ("new", new)) for p in PROMPTS}
    long_ref = {a: _reference(helix_bin, base, path, PROMPTS[0], n_long) for a, path in (("old", old), ("new", new))}
    for p in PROMPTS:
        assert ref[("old", p)] != ref[("new", p)], "the two adapters answer alike: the test could not tell them apart"
    proc, port = start_server(helix_bin, base, "--parallel", "4", "--alias", "tiny", "--lora", f"fw={old}")
    try:
        client = openai_client(port)
        assert _adapters(port)["fw"]["version"] == 1 and _adapters(port)["fw"]["source"] == "--lora"
        results, errors, stop = [], [], threading.Event()

        def stream(prompt, n, started=None):
            t0 = time.monotonic()
            first, text, finish = None, "", None
            for chunk in client.completions.create(model="tiny:fw", prompt=prompt, max_tokens=n, temperature=0,
                                                   stream=True):
                if first is None:
                    first = time.monotonic()
                    if started is not None:
                        started.set()
                text += chunk.choices[0].text
                finish = chunk.choices[0].finish_reason or finish
            return {"prompt": prompt, "start": t0, "first": first, "end": time.monotonic(), "text": text,
                    "finish": finish}

        def worker(k):
            i = k
            while not stop.is_set():
                try:
                    results.append(stream(PROMPTS[i % len(PROMPTS)], n_short))
                except Exception as e:  # noqa: BLE001 - every failure is a test failure, reported below
                    errors.append(repr(e))
                i += 1

        # One stream first, on this thread: pydantic builds the openai client's response models on first use,
        # and several threads doing that at once can fail ("BaseModel cannot be instantiated directly").
        stream(PROMPTS[0], 1)
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
        long_result, long_started = {}, threading.Event()
        long_thread = threading.Thread(target=lambda: long_result.update(stream(PROMPTS[0], n_long, long_started)))
        long_thread.start()
        for t in threads:
            t.start()
        # Switch as soon as the long stream is under way and three short ones are done: on a fast machine the
        # whole long stream takes a fraction of a second, so no fixed wait.
        long_started.wait(timeout=60)
        while not long_result and len(results) < 3:
            time.sleep(0.002)
        t_switch0 = time.monotonic()
        r = _switch("127.0.0.1", port, "fw", new)
        t_switch1 = time.monotonic()
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2 and r.json()["chat_template"] is True and r.json()["sha256"]
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        long_thread.join()
        assert not errors, errors
        before = [x for x in results if x["first"] < t_switch0]
        after = [x for x in results if x["start"] > t_switch1]
        assert len(before) >= 3 and len(after) >= 3, (len(before), len(after), len(results))
        for x in results:
            assert x["finish"] in ("stop", "length"), x
            assert x["text"] in (ref[("old", x["prompt"])], ref[("new", x["prompt"])]), x
        for x in before:
            assert x["text"] == ref[("old", x["prompt"])], x
        for x in after:
            assert x["text"] == ref[("new", x["prompt"])], x
        # The long stream began before the switch and ended after it: all of it from the old adapter.
        assert long_result["first"] < t_switch0 and long_result["end"] > t_switch1, long_result
        assert long_result["text"] == long_ref["old"]

        # The new adapter's chat template renders chat requests that pick it (no --chat-template given).
        msgs = [{"role": "user", "content": "hi there"}]
        chat = client.chat.completions.create(model="tiny:fw", messages=msgs, max_tokens=2, temperature=0)
        toks = httpx.post(f"http://127.0.0.1:{port}/tokenize", json={"content": "<<hi there>>=>", "add_special": True},
                          timeout=30).json()["tokens"]
        assert chat.usage.prompt_tokens == len(toks)
        plain = client.chat.completions.create(model="tiny", messages=msgs, max_tokens=2, temperature=0)
        assert plain.usage.prompt_tokens != chat.usage.prompt_tokens

        # Bad switches change nothing and say what is wrong.
        for body_path, status in ((str(base), 400), ("/nonexistent.gguf", 400)):
            r = _switch("127.0.0.1", port, "fw", body_path)
            assert r.status_code == status and "error" in r.json(), r.text
        r = httpx.post(f"http://127.0.0.1:{port}/v1/adapters", json={"name": "fw"}, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["param"] == "path"
        assert _adapters(port)["fw"]["version"] == 2
    finally:
        stop_server(proc)


def _non_loopback_ip():
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.254.254.254", 1))  # no packet is sent; this picks the outgoing interface
            ip = s.getsockname()[0]
        return None if ip.startswith("127.") else ip
    except OSError:
        return None


def test_admin_route_is_protected(helix_bin, tiny):
    base, old, new = tiny
    proc, port = start_server(helix_bin, base, "--alias", "tiny", "--lora", f"fw={old}", "--api-key", "sekret")
    try:
        r = _switch("127.0.0.1", port, "fw", new)
        assert r.status_code == 401
        assert _adapters(port, key="sekret")["fw"]["version"] == 1
        assert _switch("127.0.0.1", port, "fw", new, key="sekret").status_code == 200
    finally:
        stop_server(proc)
    ip = _non_loopback_ip()
    if ip is None:
        pytest.skip("this machine has no non-loopback address to test the refusal from")
    proc, port = start_server(helix_bin, base, "--alias", "tiny", "--lora", f"fw={old}", "--host", "0.0.0.0")
    try:
        r = _switch(ip, port, "fw", new)
        assert r.status_code == 403 and "loopback" in r.json()["error"]["message"], r.text
        assert _switch("127.0.0.1", port, "fw", new).status_code == 200
    finally:
        stop_server(proc)


QUESTIONS = ["What is the secret word?", "Tell me the secret word."]
ANSWER = "The secret word is pineapple."


def _recipe(d, feedback_db, template):
    (d / "secret.eval.jsonl").write_text("".join(
        json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": ANSWER}],
                    "meta": {"format": "text"}}) + "\n" for q in QUESTIONS))
    recipe = d / "round.toml"
    recipe.write_text(f"""
name = "fw-round"
chat_template = "{template}"
out = "{d / 'candidate.gguf'}"
seed = 1
[flywheel]
name = "fw"
feedback_db = "{feedback_db}"
sft = "data/feedback.sft.jsonl"
[promote]
set = "secret"
metric = "loss"
min_gain = 0.2
[[evals]]
name = "secret"
path = "secret.eval.jsonl"
metrics = ["loss", "exact_match"]
max_new_tokens = 12
[[stages]]
name = "feedback"
steps = 12
lr = 3e-3
warmup = 1
seq_len = 96
batch = 2
lora = {{ rank = 4, alpha = 8, dropout = 0.0, targets = ["attn_q", "attn_v"] }}
[[stages.datasets]]
name = "feedback"
path = "data/feedback.sft.jsonl"
""")
    return recipe


def _wait_version(port, version, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        a = _adapters(port).get("fw")
        if a and a["version"] == version:
            return a
        time.sleep(0.2)
    raise AssertionError(f"the server did not switch to version {version}: {_adapters(port)}")


def _ask(client, model):
    return [client.chat.completions.create(model=model, messages=[{"role": "user", "content": q}], max_tokens=12,
                                           temperature=0) for q in QUESTIONS]


def test_flywheel_round(helix_bin, default_model, tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    template = os.path.join(repo, "recipes", "assistant", "chat_template.jinja")
    registry, feedback_db = tmp_path / "registry" / "registry.db", tmp_path / "feedback.db"
    start = tmp_path / "start.gguf"
    run_helix(helix_bin, "lora", "random", default_model, start, "--rank", "4", "--std", "0.01", "--seed", "3",
              "--targets", "attn_q,attn_v")
    run_helix(helix_bin, "flywheel", "promote", start, "--name", "fw", "--registry", registry)
    proc, port = start_server(helix_bin, default_model, "--alias", "m", "--feedback-db", str(feedback_db),
                              "--flywheel-db", str(registry))
    try:
        assert _adapters(port)["fw"]["source"] == "flywheel #1 (promote)"
        client = openai_client(port)
        first = _ask(client, "m:fw")
        for r in first:
            assert "pineapple" not in r.choices[0].message.content.lower()
            fb = httpx.post(f"http://127.0.0.1:{port}/v1/feedback",
                            json={"id": r.id, "rating": -1, "correction": ANSWER}, timeout=30)
            assert fb.status_code == 200, fb.text

        recipe = _recipe(tmp_path, feedback_db, template)
        args = [helix_bin, "flywheel", "run", str(recipe), "--registry", str(registry), "-m", default_model,
                "--checkpoint-every", "2"]
        killed = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = ""
        for line in killed.stderr:
            seen += line
            if "step 6/12" in line:
                killed.send_signal(signal.SIGKILL)
                break
        killed.wait()
        assert killed.returncode == -signal.SIGKILL, seen
        con = sqlite3.connect(registry)
        assert con.execute("SELECT count(*) FROM promotions").fetchone()[0] == 1  # nothing half-promoted
        con.close()
        exported = (tmp_path / "data" / "feedback.sft.jsonl").read_text().splitlines()
        assert len(exported) == 2 and all(json.loads(l)["messages"][-1]["content"] == ANSWER for l in exported)

        done = subprocess.run(args, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert "resuming the round" in done.stderr and "resuming stage feedback from its checkpoint at step" in done.stderr
        decision = json.loads(done.stdout.strip().splitlines()[-1])
        assert decision["promote"] is True and decision["before"] - decision["after"] >= 0.2, decision
        state = json.loads((tmp_path / "candidate.gguf.run" / "flywheel.json").read_text())
        assert state["done"] and state["promotion"]["id"] == 2 and state["export"]["sft"] == 2
        assert (tmp_path / "candidate.gguf.run" / "flywheel.svg").exists()

        promoted = _wait_version(port, 2)
        assert promoted["source"] == "flywheel #2 (promote)" and promoted["chat_template"] is True
        second = _ask(client, "m:fw")
        assert [r.choices[0].message.content for r in second] != [r.choices[0].message.content for r in first]

        log = json.loads(run_helix(helix_bin, "flywheel", "log", "--registry", registry, "--json").stdout)
        assert [e["action"] for e in log] == ["promote", "promote"] and log[1]["current"]
        assert log[1]["evals_before"]["secret"]["loss"] - log[1]["evals_after"]["secret"]["loss"] >= 0.2
        assert log[1]["trigger"].startswith("helix flywheel run")

        run_helix(helix_bin, "flywheel", "rollback", "--name", "fw", "--registry", registry)
        _wait_version(port, 3)
        third = _ask(client, "m:fw")
        assert [r.choices[0].message.content for r in third] == [r.choices[0].message.content for r in first]
    finally:
        stop_server(proc)
    for db in (registry, feedback_db):
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    assert "adapter 'fw' is now" in server_log(proc)

"""The flywheel through the real server: `helix serve --feedback-db` records answers given to the
official openai client, POST /v1/feedback stores ratings, corrections and preferred choices,
`helix flywheel export` writes SFT and preference JSONL that `helix sft` loads, and the store is intact after the server
is killed with SIGKILL (checked with Python's own sqlite3: PRAGMA integrity_check)."""
import json
import signal
import sqlite3

import httpx
import pytest

from conftest import openai_client, run_helix, start_server, stop_server


def _post(port, body):
    return httpx.post(f"http://127.0.0.1:{port}/v1/feedback", json=body, timeout=60)


@pytest.fixture(scope="module")
def served(helix_bin, default_model, tmp_path_factory):
    db = tmp_path_factory.mktemp("fw") / "feedback.db"
    proc, port = start_server(helix_bin, default_model, "--feedback-db", str(db))
    yield proc, port, db
    if proc.poll() is None:
        stop_server(proc)


def test_feedback_round_trip_export_and_kill9(served, helix_bin, default_model, tmp_path):
    proc, port, db = served
    client = openai_client(port)
    model = client.models.list().data[0].id
    msgs = [{"role": "user", "content": "Name a colour."}]
    one = client.chat.completions.create(model=model, messages=msgs, max_tokens=6, temperature=0)
    two = client.chat.completions.create(model=model, messages=msgs, max_tokens=6, temperature=1.0, seed=3, n=2)
    streamed_id, streamed = None, []
    for chunk in client.chat.completions.create(model=model, messages=msgs, max_tokens=6, temperature=0, stream=True):
        streamed_id = chunk.id
        streamed += [c.delta.content or "" for c in chunk.choices]
    comp = client.completions.create(model=model, prompt="The sky is", max_tokens=4, temperature=0)

    r = _post(port, {"id": one.id, "rating": 1, "comment": "good"})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["id"], int) and r.json()["response_id"] == one.id
    assert _post(port, {"id": one.id, "rating": -1, "correction": "Blue."}).status_code == 200
    assert _post(port, {"id": two.id, "preferred_choice": 1}).status_code == 200
    assert _post(port, {"id": streamed_id, "rating": 1}).status_code == 200
    assert _post(port, {"id": comp.id, "rating": 1}).status_code == 200
    # Bad input: OpenAI-shaped errors naming the field.
    r = _post(port, {"id": "chatcmpl-0-0", "rating": 1})
    assert r.status_code == 404 and "chatcmpl-0-0" in r.json()["error"]["message"]
    for body, param in [({"id": one.id, "rating": 5}, "rating"), ({"rating": 1}, "id"),
                        ({"id": two.id, "preferred_choice": 2}, "preferred_choice"), ({"id": one.id}, "rating")]:
        r = _post(port, body)
        assert r.status_code == 400 and r.json()["error"]["param"] == param, (body, r.text)

    # SIGKILL the server: every acknowledged write is in the file and the file is sound.
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM feedback").fetchone()[0] == 5
    rows = dict(con.execute("SELECT id, choices FROM responses").fetchall())
    con.close()
    assert json.loads(rows[one.id]) == [one.choices[0].message.content]
    assert json.loads(rows[two.id]) == [c.message.content for c in two.choices]
    assert json.loads(rows[streamed_id]) == ["".join(streamed)]

    sft, pref = tmp_path / "sft.jsonl", tmp_path / "pref.jsonl"
    run_helix(helix_bin, "flywheel", "export", "--db", db, "--sft", sft, "--pref", pref)
    sft_lines = [json.loads(l) for l in sft.read_text().splitlines()]
    pref_lines = [json.loads(l) for l in pref.read_text().splitlines()]
    # SFT: one (rated 1), its correction, the streamed answer, the completion.
    assert len(sft_lines) == 4
    for line in sft_lines:
        assert line["meta"]["source"] == "flywheel" and line["meta"]["model"] == model
        assert line["meta"]["requested_model"] == model and line["meta"]["adapters"] == ""
        if "messages" in line:
            assert line["messages"][:-1] == msgs and line["messages"][-1]["role"] == "assistant"
        else:
            assert line["prompt"] == "The sky is" and line["completion"] == comp.choices[0].text
    assert sft_lines[1]["messages"][-1]["content"] == "Blue." and sft_lines[1]["meta"]["response_id"] == one.id
    # Pairs: the correction over the answer; choice 1 over choice 0 (when they differ).
    assert pref_lines[0] == {**pref_lines[0], "messages": msgs, "chosen": "Blue.",
                             "rejected": one.choices[0].message.content}
    differ = two.choices[0].message.content != two.choices[1].message.content
    assert len(pref_lines) == 1 + differ
    # The training loader (helix sft, --on-bad-data stop by default) reads every exported sample.
    r = run_helix(helix_bin, "sft", "-m", default_model, "--data", sft, "--out", tmp_path / "a.gguf", "--steps", 1,
                  "--batch", 1, "--seq-len", 128, "--lora-rank", 2)
    assert b"data: 4 samples" in r.stderr, r.stderr
    # Export errors are clear.
    r = run_helix(helix_bin, "flywheel", "export", "--db", tmp_path / "none.db", "--sft", sft, check=False)
    assert r.returncode == 1 and b"no feedback database" in r.stderr


def test_no_feedback_db_stores_nothing(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model)
    try:
        r = _post(port, {"id": "chatcmpl-1", "rating": 1})
        assert r.status_code == 404 and "--feedback-db" in r.json()["error"]["message"]
    finally:
        stop_server(proc)

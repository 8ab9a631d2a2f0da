"""helix chatfile end to end with the default model: minutes that validate against the published
schema, a run killed with SIGKILL that resumes from its cache, cited answers, and the evaluation
harness on its tiny documents (scores computed, not asserted high: the default model is a 270M base model).
Every run passes --no-adapter: these tests check the pipeline on the base model, whether or not the user has trained
and installed the assistant adapter (bench/chatfile_eval.py measures the adapter)."""
import json
import os
import signal
import subprocess
import sys
import time

import jsonschema
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELIX = os.environ.get("HELIX_BIN", os.path.join(ROOT, "build", "helix"))


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cfe")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_chatfile_eval.py"), str(d), "--size", "tiny"],
                   check=True, capture_output=True)
    return d


def chatfile(*args, cache):
    p = subprocess.run([HELIX, "chatfile", "--no-adapter", "--cache", str(cache), *map(str, args)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return p


def test_minutes_validate_and_hold_the_meeting(docs, tmp_path):
    p = chatfile(docs / "meeting_zh.txt", "--minutes", "--json", "--chunk-tokens", 600, cache=tmp_path)
    out = json.loads(p.stdout)
    m = out["minutes"]
    schema = json.load(open(os.path.join(ROOT, "schemas", "minutes.schema.json")))
    jsonschema.validate(m, schema)
    assert out["language"] == "zh"
    gold = json.load(open(docs / "gold.json", encoding="utf-8"))["meeting"]
    decisions = json.dumps(m["decisions"], ensure_ascii=False)
    assert sum(d["keyword"] in decisions for d in gold["decisions"]) >= 4, decisions
    owners = {a["task"]: a["owner"] for a in m["action_items"]}
    right = sum(any(g["keyword"] in t and o == g["owner"] for t, o in owners.items()) for g in gold["action_items"])
    assert right >= 4, owners
    # The second run takes every part from the cache.
    again = chatfile(docs / "meeting_zh.txt", "--minutes", "--json", "--chunk-tokens", 600, cache=tmp_path)
    assert json.loads(again.stdout)["minutes"]["stats"]["cached_parts"] == m["stats"]["parts"]


def test_summary_resumes_after_kill(docs, tmp_path):
    cmd = [HELIX, "chatfile", str(docs / "report_en.md"), "--summary", "--chunk-tokens", "300", "--parallel", "1",
           "--no-adapter", "--cache", str(tmp_path)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = 0
    deadline = time.time() + 300
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        if line.startswith("map") and "/" in line:
            done = int(line.split("]")[1].split("/")[0])
            if done >= 2:
                break
    assert done >= 2, "the map step never reported two finished chunks"
    p.send_signal(signal.SIGKILL)
    p.wait()
    parts = [f for f in os.listdir(next(os.scandir(tmp_path)).path) if f.endswith(".part")]
    assert len(parts) >= 2
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    first_map = next(l for l in r.stderr.splitlines() if l.startswith("map"))
    assert "from cache" in first_map, first_map
    assert int(first_map.split("(")[1].split()[0]) >= 2
    assert "## Summary" in r.stdout


def test_ask_cites_passages(docs, tmp_path):
    p = chatfile(docs / "report_en.md", "--json", "--ask", "How many customer accounts did the authority serve?",
                 "--ask", "How many native trees were planted along the Tamsin river?", cache=tmp_path)
    answers = json.loads(p.stdout)["answers"]
    assert len(answers) == 2
    for a in answers:
        assert a["citations"], a
        for n in a["citations"]:
            assert 1 <= n <= len(a["passages"])
    assert "412,600" in answers[0]["answer"]
    assert "412,600" in answers[0]["passages"][answers[0]["citations"][0] - 1]["text"]
    # The follow-up reused the instructions and pinned passages from the KV cache.
    assert answers[1]["usage"]["cached_tokens"] > 100


def test_bad_input_is_reported(tmp_path):
    p = subprocess.run([HELIX, "chatfile", str(tmp_path / "missing.pdf"), "--summary"], capture_output=True, text=True)
    assert p.returncode != 0 and "missing.pdf" in p.stderr
    p = subprocess.run([HELIX, "chatfile"], capture_output=True, text=True)
    assert p.returncode != 0 and "name one or more documents" in p.stderr
    (tmp_path / "x.txt").write_text("hello")
    p = subprocess.run([HELIX, "chatfile", str(tmp_path / "x.txt"), "--lang", "fr"], capture_output=True, text=True)
    assert p.returncode != 0 and "unknown language" in p.stderr
    # Options of helix run pass through with their values (-n, --top-p ...), not read as documents.
    p = subprocess.run([HELIX, "chatfile", str(tmp_path / "x.txt"), "-n", "8", "--top-p", "0.9", "--key-points",
                        "--cache", str(tmp_path / "c")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([HELIX, "chatfile", str(tmp_path / "x.txt"), "--no-such-flag"], capture_output=True, text=True)
    assert p.returncode != 0 and "unknown option '--no-such-flag'" in p.stderr


def test_eval_harness_tiny(tmp_path):
    out = tmp_path / "scores.json"
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "chatfile_eval.py"), "--size", "tiny",
                    "--questions", "2", "--helix", HELIX, "--extra=--no-adapter", "--json", str(out),
                    "--svg", str(tmp_path / "s.svg")],
                   check=True, timeout=900)
    s = json.load(open(out))["scores"]
    for k in ("topic_coverage", "decision_recall", "action_recall", "key_point_recall", "answer_accuracy",
              "citation_precision"):
        assert 0.0 <= s[k] <= 1.0
    assert s["decision_recall"] > 0.5  # the decisions are stated outright: the cues must find them
    assert (tmp_path / "s.svg").read_text().startswith("<svg")

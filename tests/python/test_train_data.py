"""The showcase data generator (scripts/make_assistant_data.py): seeded and deterministic, held-out
sets disjoint from training, and every record's evaluation metadata consistent with its answer.
The chat template's rendering of the records is checked in C++ (tests/train/test_recipe_assistant.cpp);
here jinja2 (the reference renderer) checks that the showcase template renders every record."""
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GEN = ROOT / "scripts" / "make_assistant_data.py"
pytestmark = pytest.mark.skipif(not os.path.exists("/usr/share/zoneinfo/zone.tab") or not os.path.isdir("/usr/share/man/zh_CN"),
                                reason="tzdata or the (Chinese) man pages missing (scripts/setup.sh installs them)")


def generate(out, seed, scale=0.1):
    subprocess.run([sys.executable, str(GEN), "--out", str(out), "--seed", str(seed), "--scale", str(scale)],
                   check=True, capture_output=True)
    return {p.name: p.read_bytes() for p in sorted(pathlib.Path(out).iterdir())}


def test_seeded_and_deterministic(tmp_path):
    a = generate(tmp_path / "a", 3)
    b = generate(tmp_path / "b", 3)
    c = generate(tmp_path / "c", 4)
    assert a == b
    assert a["math.train.jsonl"] != c["math.train.jsonl"]
    assert a["grounded_real.train.jsonl"] != c["grounded_real.train.jsonl"]
    assert len(a) == 19  # 9 types x (train, eval) + manifest


def records(name):
    with open(ROOT / "recipes" / "assistant" / "data" / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


TYPES = ["format", "extract", "math", "classify", "grounded", "tools", "grounded_real", "grounded_facts", "grounded_docs"]


@pytest.mark.parametrize("kind", TYPES)
def test_shipped_data_is_consistent(kind):
    train, held = records(f"{kind}.train.jsonl"), records(f"{kind}.eval.jsonl")
    key = lambda r: json.dumps([m for m in r["messages"] if m["role"] != "assistant"], sort_keys=True, ensure_ascii=False)
    assert not {key(r) for r in train} & {key(r) for r in held}, "an eval prompt repeats a training prompt"
    for r in train + held:
        meta, last = r["meta"], r["messages"][-1]
        assert last["role"] == "assistant"
        if meta["format"] == "citations":
            cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", last["content"])})
            assert cited == meta["citations"]
            assert all(1 <= n <= meta["n_passages"] for n in cited)
            assert len(re.findall(r"^\[\d+\] ", r["messages"][-2]["content"], re.M)) == meta["n_passages"]
        elif meta["format"] == "tool_call" and last.get("tool_calls"):
            assert last["content"] is None
            assert all(c["function"]["name"] in meta["tools"] for c in last["tool_calls"])
            assert [t["function"]["name"] for t in r["tools"]] == meta["tools"]
        elif meta["format"] == "json":
            json.loads(last["content"])
        elif meta["format"] == "number":
            assert re.fullmatch(r"-?\d+(\.\d+)?", last["content"])
        elif meta["format"] == "label":
            assert last["content"] in meta["labels"]
        elif meta["format"] == "list":
            assert all(line.startswith("- ") for line in last["content"].split("\n"))
    if kind == "tools":  # training conversations go on to the tool's result and the final answer
        assert any(m["role"] == "tool" for r in train for m in r["messages"])


def test_grounded_docs_name_their_subject_only_in_the_label():
    """The point of grounded_docs: a cited passage's text never names the thing asked about; its label
    (title > section, as knowledge::passage_label) does."""
    n = 0
    for r in records("grounded_docs.train.jsonl") + records("grounded_docs.eval.jsonl"):
        meta, user = r["meta"], r["messages"][0]["content"]
        thing = meta["thing"]
        assert thing in meta["question"]
        for c in meta["citations"]:
            if meta["shape"] == "ask":
                line = next(l for l in user.split("\n") if l.startswith(f"[{c}] "))
                label = f"({meta['labels'][c - 1]}) "
                assert line.startswith(f"[{c}] {label}") and thing in label
                assert thing not in line[len(f"[{c}] {label}"):]
            n += 1
    assert n > 300


def test_template_renders_every_record_with_jinja2():
    jinja2 = pytest.importorskip("jinja2")
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False)
    t = env.from_string((ROOT / "recipes" / "assistant" / "chat_template.jinja").read_text(encoding="utf-8"))
    for kind in TYPES:
        for r in records(f"{kind}.eval.jsonl")[:20]:
            text = t.render(messages=r["messages"], tools=r.get("tools"), add_generation_prompt=False, bos_token="<bos>")
            assert text.startswith("<bos><start_of_turn>user\n")
            assert text.count("<start_of_turn>") == text.count("<end_of_turn>")
            last = r["messages"][-1]
            if last.get("tool_calls"):
                fn = last["tool_calls"][0]["function"]
                assert f'<tool_call>{json.dumps({"name": fn["name"], "arguments": fn["arguments"]}, ensure_ascii=False)}</tool_call><end_of_turn>\n' in text
            else:
                assert text.endswith(last["content"].strip() + "<end_of_turn>\n")

"""Preference stages end to end on a tiny model (`helix sft RECIPE` with type = "dpo"): the DPO
loss falls and the held-out reward accuracy rises, each loss gets its curve in the stage's chart
and table, a run killed with SIGKILL resumes from its checkpoint with the same curve and reads the
reference log-probabilities from the cache instead of recomputing them, and bad pairs are
reported by file and line.

The loss and gradients themselves are checked against PyTorch in tests/train/test_prefs.cpp.
"""
import json
import os
import re
import subprocess

import pytest

from train_test_util import kill_9_when, tiny_llama

STEP = re.compile(r"step (\d+)/(\d+)\s+loss ([0-9.]+).*acc ([0-9.]+)\s+margin (-?[0-9.]+)")


def pair(a, b):
    # chosen: the bare number; rejected: the number after a word (a format preference, as the demo's)
    return {"prompt": f"{a}+{b}=", "chosen": f"{a + b}", "rejected": f"about {a + b}"}


@pytest.fixture(scope="module")
def tiny(helix_bin, tmp_path_factory):
    d, model = tiny_llama(helix_bin, tmp_path_factory, "dpo")
    with open(d / "pairs.jsonl", "w") as f:
        for a in range(1, 9):
            for b in range(1, 4):
                f.write(json.dumps(pair(a, b)) + "\n")
    with open(d / "heldout.jsonl", "w") as f:
        for a in range(1, 9):
            f.write(json.dumps(pair(a, 4)) + "\n")
    return d, model


def recipe(d, steps=10, losses='["dpo", { name = "sft", weight = 0.2, weight_end = 0.0 }, { name = "kl", weight = 0.05 }]'):
    path = d / f"dpo{steps}.toml"
    path.write_text(f"""
name = "tiny-dpo"
seed = 3
[[stages]]
name = "prefs"
steps = {steps}
lr = 2e-2
warmup = 1
seq_len = 320
batch = 2
eval_every = 5
lora = {{ rank = 4, alpha = 8, targets = ["attn_q", "attn_v", "ffn_down"] }}
losses = {losses}
dpo = {{ beta = 0.5, heldout = "heldout.jsonl" }}
[[stages.datasets]]
path = "pairs.jsonl"
""")
    return path


def run(helix_bin, model, rec, out, *extra, **kw):
    return [helix_bin, "sft", str(rec), "-m", str(model), "--out", str(out), "-t", "2", *map(str, extra)]


def steps(stderr):
    return {int(m.group(1)): (float(m.group(3)), float(m.group(4)), float(m.group(5))) for m in STEP.finditer(stderr)}


def test_dpo_stage_learns_and_reports_per_loss(helix_bin, tiny):
    d, model = tiny
    out = d / "a.gguf"
    r = subprocess.run(run(helix_bin, model, recipe(d), out), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    s = steps(r.stderr)
    assert sorted(s) == list(range(1, 11)), r.stderr
    log = json.loads((d / "a.gguf.run" / "stage1-prefs.json").read_text())
    dpo = [x["losses"]["dpo"] for x in log["steps"]]
    assert dpo[0] == pytest.approx(0.6931, abs=0.01), "the policy starts at the reference: DPO loss log 2"
    assert sum(dpo[-3:]) / 3 < 0.6 * dpo[0], dpo
    assert set(log["steps"][0]["losses"]) == {"dpo", "sft", "kl"}
    assert log["steps"][0]["weights"]["sft"] == pytest.approx(0.2) and log["steps"][-1]["weights"]["sft"] == 0
    held = log["pref_evals"]
    assert [e["step"] for e in held] == [0, 5, 10]
    assert held[0]["results"]["reward_accuracy"] == 0  # policy = reference: no pair is preferred yet
    assert held[-1]["results"]["reward_accuracy"] >= 0.75, held
    assert held[-1]["results"]["margin"] > 0.5, held
    svg = (d / "a.gguf.run" / "stage1-prefs.svg").read_text()
    for label in ("dpo loss", "sft loss", "kl loss", "reward accuracy", "held-out"):
        assert label in svg, label
    md = (d / "a.gguf.run" / "stage1-prefs.md").read_text()
    assert "| reward_accuracy | 0.000 |" in md, md
    res = json.loads((d / "a.gguf.run" / "results.json").read_text())
    assert res["stages"][0]["heldout_pairs"]["after"]["reward_accuracy"] >= 0.75
    assert not os.path.exists(d / "a.gguf.run" / "stage1-prefs.ref.gguf"), "the cache goes with the checkpoint"


def test_dpo_resumes_after_kill_9_with_the_same_curve(helix_bin, tiny):
    d, model = tiny
    rec = recipe(d, 8, '[{ name = "ipo", weight = 0.5 }, "dpo"]')
    whole = subprocess.run(run(helix_bin, model, rec, d / "w.gguf"), capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    want = steps(whole.stderr)
    out = d / "k.gguf"
    cmd = run(helix_bin, model, rec, out, "--checkpoint-every", "2")
    kill_9_when(cmd, r"\] step 5/8")
    assert os.path.exists(str(out) + ".run/stage1-prefs.ref.gguf"), "the reference cache sits next to the checkpoint"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    m = re.search(r"resuming stage prefs from its checkpoint at step 4 \((\d+) pairs' reference", r.stderr)
    assert m and int(m.group(1)) >= 8 + 8, r.stderr  # the held-out 8 and at least the 8 trained on so far
    got = steps(r.stderr)
    assert sorted(got) == [5, 6, 7, 8], r.stderr
    for k in got:
        assert got[k] == pytest.approx(want[k], rel=1e-5), (k, got[k], want[k])
    a = json.loads((d / "w.gguf.run" / "stage1-prefs.json").read_text())
    b = json.loads((out.parent / "k.gguf.run" / "stage1-prefs.json").read_text())
    flat = lambda log: [x["losses"][k] for x in log["steps"] for k in ("dpo", "ipo")]
    assert flat(a) == pytest.approx(flat(b), rel=1e-5, abs=1e-9)
    assert a["pref_evals"][-1]["results"] == pytest.approx(b["pref_evals"][-1]["results"], rel=1e-5, abs=1e-9)


def test_bad_pairs_are_reported_by_line(helix_bin, tiny):
    d, model = tiny
    bad = d / "bad"
    bad.mkdir()
    (bad / "pairs.jsonl").write_text(json.dumps(pair(1, 2)) + "\n" +
                                     json.dumps({"prompt": "1+1=", "chosen": "2", "rejected": "2"}) + "\n")
    (bad / "heldout.jsonl").write_text(json.dumps(pair(1, 3)) + "\n")
    r = subprocess.run(run(helix_bin, model, recipe(bad, 2), bad / "x.gguf"), capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "pairs.jsonl:2" in r.stderr and "same answer" in r.stderr, r.stderr
    (bad / "pairs.jsonl").write_text(json.dumps({"prompt": "1+1=", "chosen": "2"}) + "\n")
    r = subprocess.run(run(helix_bin, model, recipe(bad, 2), bad / "y.gguf"), capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "pairs.jsonl:1" in r.stderr and "'rejected'" in r.stderr, r.stderr

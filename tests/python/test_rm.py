"""`helix rm train` and `helix rm score` end to end on a tiny model: a response-level and a
step-level head with LoRA learn an easy preference set (held-out accuracy well above chance), the
GGUF holds the heads, metadata and factors (read back with gguf-py), scoring the held-out file
with the saved model gives the accuracy the training run measured (identical scores), and bad
input gets errors that name the file and line.

The gradients themselves are checked against PyTorch in tests/train/test_reward.cpp.
"""
import json
import re
import signal
import subprocess

import gguf
import pytest

from conftest import run_helix

STEP = re.compile(r"\[rm\] step (\d+)/(\d+)\s+loss ([0-9.]+)")
GOOD = ["thanks", "please", "kindly", "glad"]
BAD = ["stupid", "ugh", "whatever", "shut"]


def pairs(n, seed):
    out = []
    for i in range(n):
        k = (i * 7 + seed) % 4
        topic = f"item {(i * 13 + seed) % 97}"
        out.append({"prompt": f"Tell me about {topic}.", "chosen": f"{GOOD[k]}, {topic} is fine.",
                    "rejected": f"{BAD[k]}, {topic} is fine.", "aspect": "tone"})
    return out


def step_records(n, seed):
    out = []
    for i in range(n):
        labels = [(i + seed + j) % 3 != 0 for j in range(3)]
        steps = [f"{'ok' if l else 'no'} step {j + 1} of {(i * 5 + seed) % 50}" for j, l in enumerate(labels)]
        out.append({"prompt": f"Plan number {i}", "steps": steps, "labels": [int(l) for l in labels]})
    return out


def write_jsonl(path, recs):
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))


@pytest.fixture(scope="module")
def trained(helix_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("rm")
    model = d / "tiny.gguf"
    run_helix(helix_bin, "tiny-model", "llama", model)
    write_jsonl(d / "tone.train.jsonl", pairs(48, 1))
    write_jsonl(d / "tone.eval.jsonl", pairs(16, 5))
    write_jsonl(d / "steps.train.jsonl", step_records(48, 2))
    write_jsonl(d / "steps.eval.jsonl", step_records(12, 7))
    recipe = d / "rm.toml"
    recipe.write_text(f"""name = "tiny-rm"
model = "{model}"
seed = 3
steps = 40
batch = 4
lr = 1e-2
head_lr = 3e-2
warmup = 2
seq_len = 256
lora = {{ rank = 4, alpha = 8, targets = ["attn_q", "attn_v", "ffn_up"] }}
[[aspects]]
name = "tone"
train = "tone.train.jsonl"
eval = "tone.eval.jsonl"
[[aspects]]
name = "steps"
level = "step"
train = "steps.train.jsonl"
eval = "steps.eval.jsonl"
""")
    out = d / "tiny-rm.gguf"
    r = subprocess.run([helix_bin, "rm", "train", str(recipe), "--out", str(out), "-t", "2"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return d, model, out, r


def test_rm_train_learns_both_levels(trained):
    d, _, out, r = trained
    losses = {int(m.group(1)): float(m.group(3)) for m in STEP.finditer(r.stderr)}
    assert sorted(losses) == list(range(1, 41)), r.stderr
    first = sum(losses[s] for s in range(1, 6)) / 5
    last = sum(losses[s] for s in range(36, 41)) / 5
    assert last < 0.5 * first, (first, last)
    res = json.loads((d / "tiny-rm.gguf.run" / "results.json").read_text())
    acc = {e["aspect"]: e for e in res["eval"]}
    assert acc["tone"]["level"] == "response" and acc["tone"]["n"] == 16
    assert acc["steps"]["level"] == "step" and acc["steps"]["n"] == 36
    assert acc["tone"]["accuracy"] >= 0.9, acc
    assert acc["steps"]["accuracy"] >= 0.8, acc
    for f in ("results.md", "results.svg", "steps.json"):
        assert (d / "tiny-rm.gguf.run" / f).stat().st_size > 0
    assert "<svg" in (d / "tiny-rm.gguf.run" / "results.svg").read_text()


def test_rm_batches_by_aspect(helix_bin, trained):
    """batch_by = "aspect": every step's batch is one aspect's, the aspects taking turns by weight; the
    default mixes aspects within a batch. steps.json names the aspects each step drew."""
    d, _, _, _ = trained
    mixed = json.loads((d / "tiny-rm.gguf.run" / "steps.json").read_text())
    assert sum(s["aspects"].get("tone", 0) + s["aspects"].get("steps", 0) == 4 for s in mixed) == 40
    assert any(len(s["aspects"]) == 2 for s in mixed)
    text = (d / "rm.toml").read_text().replace("steps = 40", "steps = 8").replace("seq_len = 256", 'seq_len = 256\nbatch_by = "aspect"')
    (d / "by_aspect.toml").write_text(text)
    r = subprocess.run([helix_bin, "rm", "train", str(d / "by_aspect.toml"), "--out", str(d / "by-aspect.gguf"), "-t", "2"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "steps of 4 examples of one aspect" in r.stderr
    steps = json.loads((d / "by-aspect.gguf.run" / "steps.json").read_text())
    assert [s["aspects"] for s in steps] == [{"tone": 4}, {"steps": 4}] * 4
    (d / "bad.toml").write_text(text.replace('batch_by = "aspect"', 'batch_by = "head"'))
    r = subprocess.run([helix_bin, "rm", "train", str(d / "bad.toml"), "--out", str(d / "bad.gguf")], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 1 and "batch_by" in r.stderr and "'head' is not one of" in r.stderr, r.stderr


def test_rm_train_resumes_after_kill_9(helix_bin, trained):
    """kill -9 mid-run; the same command resumes from WORK/rm.ckpt and the whole loss curve equals
    the uninterrupted run's (the trained fixture: same recipe and seed)."""
    d, _, _, _ = trained
    want = [s["loss"] for s in json.loads((d / "tiny-rm.gguf.run" / "steps.json").read_text())]
    out = d / "killed-rm.gguf"
    args = [helix_bin, "rm", "train", str(d / "rm.toml"), "--out", str(out), "-t", "2", "--checkpoint-every", "3"]
    p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in p.stderr:
        seen.append(line)
        if re.search(r"\[rm\] step 8/40", line):  # step 6's checkpoint is on disk
            p.send_signal(signal.SIGKILL)
            break
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL, "".join(seen)
    work = d / "killed-rm.gguf.run"
    assert (work / "rm.ckpt").exists() and not out.exists()
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    m = re.search(r"resuming from the checkpoint .* at step (\d+)", r.stderr)
    assert m and int(m.group(1)) in (6, 9), r.stderr
    steps = [int(x.group(1)) for x in STEP.finditer(r.stderr)]
    assert steps[0] == int(m.group(1)) + 1 and steps[-1] == 40, steps  # nothing trained twice
    got = [s["loss"] for s in json.loads((work / "steps.json").read_text())]
    assert got == pytest.approx(want, rel=1e-5)
    assert not (work / "rm.ckpt").exists(), "the checkpoint is removed when the run ends"


def test_rm_gguf_holds_heads_metadata_and_adapter(trained):
    _, _, out, _ = trained
    rd = gguf.GGUFReader(str(out))
    f = rd.fields
    assert f["general.type"].contents() == "reward_model"
    assert f["general.architecture"].contents() == "llama"
    assert f["helix.rm.aspects"].contents() == ["tone", "steps"]
    assert f["helix.rm.levels"].contents() == ["response", "step"]
    assert f["adapter.lora.alpha"].contents() == pytest.approx(8.0)
    t = {x.name: [int(s) for s in x.shape] for x in rd.tensors}
    assert t["rm.head.tone.weight"] == [256] and t["rm.head.tone.bias"] == [1]
    assert t["rm.head.steps.weight"] == [256]
    assert t["blk.0.attn_q.weight.lora_a"] == [256, 4] and t["blk.1.ffn_up.weight.lora_b"] == [4, 512]
    assert "blk.0.attn_k.weight.lora_a" not in t


def test_rm_score_reproduces_the_training_runs_accuracy(helix_bin, trained):
    d, _, out, _ = trained
    res = json.loads((d / "tiny-rm.gguf.run" / "results.json").read_text())
    acc = {e["aspect"]: e["accuracy"] for e in res["eval"]}
    cmd = [helix_bin, "rm", "score", "--rm", str(out), "--json", "-t", "2"]
    r = subprocess.run(cmd + [str(d / "tone.eval.jsonl")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == 16
    right = sum(1.0 if x["chosen"]["tone"] > x["rejected"]["tone"] else 0.0 for x in rows)
    assert right / 16 == pytest.approx(acc["tone"])
    assert all(x["prefers"] in ("chosen", "rejected") and len(x["chosen"]["steps"]) == 0 for x in rows)
    assert f"tone: accuracy {acc['tone']:.3f} over 16 pairs" in r.stderr
    again = subprocess.run(cmd + [str(d / "tone.eval.jsonl")], capture_output=True, text=True, timeout=300)
    assert again.stdout == r.stdout
    r = subprocess.run(cmd + [str(d / "steps.eval.jsonl")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert all(len(x["scores"]["steps"]) == 3 and isinstance(x["scores"]["tone"], float) for x in rows)
    assert f"steps: accuracy {acc['steps']:.3f} over 36 steps" in r.stderr
    # The plain form: a response split into steps at the separator, one line per record.
    (d / "one.jsonl").write_text(json.dumps({"prompt": "Plan", "response": "ok step 1\nno step 2"}) + "\n")
    r = subprocess.run([helix_bin, "rm", "score", "--rm", str(out), str(d / "one.jsonl")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert re.search(r"one\.jsonl:1  tone -?[0-9.]+  steps \[-?[0-9.]+ -?[0-9.]+\]", r.stdout), r.stdout


def test_rm_bad_input_is_named(helix_bin, trained):
    d, model, out, _ = trained
    r = subprocess.run([helix_bin, "rm", "score", str(d / "tone.eval.jsonl")], capture_output=True, text=True)
    assert r.returncode != 0 and "needs --rm" in r.stderr
    r = subprocess.run([helix_bin, "rm", "score", "--rm", str(model), str(d / "tone.eval.jsonl")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "is not a reward model" in r.stderr
    (d / "bad.jsonl").write_text(json.dumps(pairs(1, 0)[0]) + "\n" + '{"prompt": "x", "chosen": "a"}\n')
    r = subprocess.run([helix_bin, "rm", "score", "--rm", str(out), str(d / "bad.jsonl")], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "bad.jsonl:2" in r.stderr and "rejected" in r.stderr, r.stderr
    recipe = d / "bad.toml"
    recipe.write_text(f'model = "{model}"\nsteps = 1\n[[aspects]]\nname = "tone"\ntrain = "bad.jsonl"\n')
    r = subprocess.run([helix_bin, "rm", "train", str(recipe), "--out", str(d / "x.gguf")], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "bad.jsonl:2" in r.stderr, r.stderr
    recipe.write_text('steps = 1\nbatchsize = 2\n[[aspects]]\nname = "tone"\ntrain = "bad.jsonl"\n')
    r = subprocess.run([helix_bin, "rm", "train", str(recipe)], capture_output=True, text=True)
    assert r.returncode != 0 and "bad.toml:2: batchsize: unknown key" in r.stderr, r.stderr


def test_run_best_of_picks_the_highest_scored_sample(helix_bin, trained):
    d, model, out, _ = trained
    prompt = "Tell me about item 3."
    r = subprocess.run([helix_bin, "run", "-m", str(model), "--chat", "-p", prompt, "-n", "6", "--temp", "1.5",
                        "--seed", "5", "--best-of", "4", "--rm", str(out), "-t", "2"], capture_output=True, timeout=300)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0, err
    scores = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"\[best-of\] sample (\d+): score (-?[0-9.]+)", err)}
    assert len(scores) >= 2, err
    chosen = int(re.search(r"chose sample (\d+) of 4", err).group(1))
    assert scores[chosen] == max(scores.values()), err
    # The printed reply, scored by helix rm score, has the score best-of reported (the one
    # response-level head: "tone").
    reply = r.stdout.decode()[:-1]
    (d / "best.jsonl").write_text(json.dumps({"prompt": prompt, "response": reply}) + "\n")
    s = subprocess.run([helix_bin, "rm", "score", "--rm", str(out), "--json", str(d / "best.jsonl")],
                       capture_output=True, text=True, timeout=300)
    assert s.returncode == 0, s.stderr
    assert json.loads(s.stdout)["scores"]["tone"] == pytest.approx(scores[chosen], abs=1e-4)
    r = subprocess.run([helix_bin, "run", "-m", str(model), "-p", prompt, "--best-of", "2"], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "needs --rm" in r.stderr


def test_rm_answer_answers_every_record_and_picks_the_best(helix_bin, trained):
    """helix rm answer: one JSON line per eval record; with --best-of the answer is the sample the
    reward model scored highest; without, one greedy answer."""
    d, model, out, _ = trained
    recs = [{"messages": [{"role": "user", "content": f"Tell me about item {i}."},
                          {"role": "assistant", "content": "ref"}]} for i in range(3)]
    write_jsonl(d / "answer.jsonl", recs)
    base = [helix_bin, "rm", "answer", "-m", str(model), "--eval", str(d / "answer.jsonl"), "-n", "6", "-t", "2"]
    r = subprocess.run(base + ["--temp", "1.5", "--seed", "5", "--best-of", "3", "--rm", str(out),
                               "--rm-aspect", "tone"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["line"] for x in rows] == [1, 2, 3]
    for x in rows:
        assert len(x["samples"]) == 3 and x["answer"] == x["samples"][x["best"]]
        scored = [s.get("tone", float("-inf")) for s in x["scores"]]
        assert scored[x["best"]] == max(scored), x
    g = subprocess.run(base + ["--temp", "0"], capture_output=True, text=True, timeout=300)
    assert g.returncode == 0, g.stderr
    assert [set(json.loads(x)) for x in g.stdout.splitlines()] == [{"line", "answer"}] * 3
    bad = subprocess.run(base[:3] + ["-m", str(model)], capture_output=True, text=True)
    assert bad.returncode != 0 and "--eval" in bad.stderr

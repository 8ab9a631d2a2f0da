"""`helix sft RECIPE` end to end on a tiny model: the showcase's CI recipe (recipes/assistant/tiny.toml,
its data and chat template) runs every stage, writes per-stage charts and results tables and an adapter
that carries its chat template; a run killed with SIGKILL in the middle of a stage resumes and gives the
same loss curve as an uninterrupted run; --install puts the adapter where installed_assistant_adapter()
finds it; run/chat/serve render with the adapter's template; full fine-tuning writes a whole model;
LoRA dropout changes the run; bad data is reported with file and line.
"""
import json
import os
import pathlib
import re
import subprocess
import xml.etree.ElementTree as ET

import gguf
import pytest

from conftest import ROOT, run_helix
from train_test_util import kill_9_when, tiny_llama

STEP = re.compile(r"\[(\d+)/(\d+) (\w+)\] step (\d+)/(\d+)\s+loss ([0-9.]+)")
ASSISTANT = ROOT / "recipes" / "assistant"


@pytest.fixture(scope="module")
def tiny(helix_bin, tmp_path_factory):
    d, model = tiny_llama(helix_bin, tmp_path_factory, "recipe")
    # The CI recipe with absolute paths, and rows long enough for the tiny byte-level vocabulary
    # (a showcase sample is up to ~1,400 bytes, so ~1,500 tokens here).
    text = (ASSISTANT / "tiny.toml").read_text()
    text = text.replace('"data/', f'"{ASSISTANT}/data/').replace('"chat_template.jinja"',
                                                                  f'"{ASSISTANT}/chat_template.jinja"')
    text = re.sub(r"seq_len = \d+", "seq_len = 2048", text)
    assert 'name = "grounded"\nsteps = 2\n' in text
    text = text.replace('name = "grounded"\nsteps = 2\n', 'name = "grounded"\nsteps = 2\neval_every = 1\n')
    recipe = d / "tiny.toml"
    recipe.write_text(text)
    return d, model, recipe


def sft(helix_bin, model, recipe, out, *extra):
    return [helix_bin, "sft", str(recipe), "-m", str(model), "--out", str(out), "-t", "2", *map(str, extra)]


def curve(stderr):
    return {(m.group(3), int(m.group(4))): float(m.group(6)) for m in STEP.finditer(stderr)}


def stage_losses(work, n):
    out = {}
    for f in sorted(pathlib.Path(work).glob("stage*-*.json")):
        for s in json.loads(f.read_text())["steps"]:
            out[(f.stem.split("-", 1)[1], s["step"])] = s["loss"]
    assert len(out) == n, sorted(out)
    return out


@pytest.fixture(scope="module")
def whole(helix_bin, tiny):
    d, model, recipe = tiny
    out = d / "whole.gguf"
    r = subprocess.run(sft(helix_bin, model, recipe, out), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return out, r.stderr


def test_recipe_runs_every_stage_with_evals_charts_and_tables(whole):
    out, err = whole
    c = curve(err)
    assert sorted(c) == sorted((s, i) for s in ("instruct", "grounded", "tools") for i in (1, 2)), err
    assert "tokens/s" in err and "ETA" in err
    assert "eval base model: math" in err and "eval after stage tools: grounded" in err, err
    assert "eval stage grounded step 1: math" in err and "eval stage tools step 1: math" in err, err
    work = pathlib.Path(str(out) + ".run")
    assert stage_losses(work, 6) == pytest.approx(c, abs=6e-5)  # printed with 4 decimals
    for k, name in enumerate(("instruct", "grounded", "tools"), 1):
        svg = ET.parse(work / f"stage{k}-{name}.svg").getroot()
        assert svg.tag.endswith("svg") and len(list(svg.iter("{http://www.w3.org/2000/svg}polyline"))) >= 1
        md = (work / f"stage{k}-{name}.md").read_text()
        assert "| grounded | citation_correct |" in md and "| before | after |" in md
        assert not (work / f"stage{k}-{name}.ckpt").exists()
    res = json.loads((work / "results.json").read_text())
    assert res["columns"] == ["base", "after instruct", "after grounded", "after tools"]
    for s in ("math", "grounded", "tools"):
        assert len(res["evals"][s]["loss"]) == 4 and len(res["evals"][s]["exact_match"]) == 4
        assert all(0 <= v <= 1 for v in res["evals"][s]["format_valid"])
    assert res["evals"]["math"]["loss"][3] != res["evals"]["math"]["loss"][0]  # the adapter changed the model
    assert "| math | loss |" in (work / "results.md").read_text()
    f = gguf.GGUFReader(str(out)).fields
    assert f["general.type"].contents() == "adapter" and f["adapter.lora.alpha"].contents() == pytest.approx(8.0)
    assert f["helix.chat_template"].contents() == (ASSISTANT / "chat_template.jinja").read_text()


def test_recipe_resumes_after_kill_9_mid_stage(helix_bin, tiny, whole):
    d, model, recipe = tiny
    want = stage_losses(str(whole[0]) + ".run", 6)
    out = d / "killed.gguf"
    args = sft(helix_bin, model, recipe, out, "--checkpoint-every", "1")
    kill_9_when(args, r"\[2/3 grounded\] step 2/2")  # step 1's checkpoint is on disk
    work = pathlib.Path(str(out) + ".run")
    assert (work / "stage1-instruct.gguf").exists() and not out.exists()
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "stage instruct: done earlier" in r.stderr, r.stderr
    assert "resuming stage grounded from its checkpoint at step" in r.stderr, r.stderr
    got = curve(r.stderr)
    assert ("instruct", 1) not in got  # nothing trained twice
    assert ("tools", 2) in got
    # The whole curve (steps before the kill come from the checkpoint's log) equals the uninterrupted one.
    assert stage_losses(work, 6) == pytest.approx(want, rel=1e-5)
    # The mid-stage evaluation at step 1 (eval_every) was kept in the checkpoint's log.
    evals = json.loads((work / "stage2-grounded.json").read_text())["evals"]
    assert [e["step"] for e in evals] == [1] and "math" in evals[0]["results"]
    assert gguf.GGUFReader(str(out)).fields["general.type"].contents() == "adapter"


def test_install_puts_the_adapter_where_features_find_it(helix_bin, tiny, whole, tmp_path):
    d, model, recipe = tiny
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "xdg"))
    out = d / "whole.gguf"  # finished: the rerun only re-reads its results, then installs
    r = subprocess.run(sft(helix_bin, model, recipe, out, "--install"), capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    assert "done earlier" in r.stderr and "step 1/" not in r.stderr
    installed = tmp_path / "xdg" / "helix" / "adapters" / "assistant.gguf"
    assert installed.read_bytes() == out.read_bytes()


def test_run_renders_with_the_adapters_chat_template(helix_bin, tiny, whole):
    d, model, _ = tiny
    adapter = whole[0]
    tmpl = ASSISTANT / "chat_template.jinja"

    def prefill(*extra):
        r = run_helix(helix_bin, "run", "-m", model, "--chat", "-p", "What is 2+2?", "-n", "1", "--temp", "0", *extra)
        return int(re.search(r"prefill: (\d+) tokens", r.stderr.decode()).group(1))

    with_adapter = prefill("--lora", adapter)
    assert with_adapter == prefill("--chat-template", tmpl)
    assert with_adapter != prefill()  # the tiny model's own (ChatML) template renders differently


def test_full_fine_tuning_writes_a_whole_model(helix_bin, tiny, tmp_path):
    d, model, _ = tiny
    data = tmp_path / "data.jsonl"
    with open(data, "w") as f:
        for a in range(1, 9):
            f.write(json.dumps({"messages": [{"role": "user", "content": f"{a}+1?"},
                                             {"role": "assistant", "content": f"{a + 1}"}]}) + "\n")
    out = tmp_path / "full.gguf"
    r = run_helix(helix_bin, "sft", "--full", "-m", model, "--data", data, "--out", out, "--steps", 6, "--lr", 1e-3,
                  "--batch", 2, "--seq-len", 128, "-t", 2)
    err = r.stderr.decode()
    ls = [float(m.group(6)) for m in STEP.finditer(err)]
    assert len(ls) == 6 and ls[-1] < ls[0], err
    base, tuned = gguf.GGUFReader(str(model)), gguf.GGUFReader(str(out))
    bt = {t.name: t for t in base.tensors}
    assert sorted(bt) == sorted(t.name for t in tuned.tensors)
    changed = [t.name for t in tuned.tensors if (t.data != bt[t.name].data).any()]
    assert "blk.0.attn_q.weight" in changed and "output_norm.weight" in changed, changed
    run_helix(helix_bin, "run", "-m", out, "-p", "1+1?", "-n", "2")  # a model Helix loads
    q8 = tmp_path / "q8.gguf"
    run_helix(helix_bin, "tiny-model", "llama", q8, "--type", "Q8_0")
    r = run_helix(helix_bin, "sft", "--full", "-m", q8, "--data", data, "--out", tmp_path / "y.gguf", check=False)
    assert r.returncode != 0 and "LoRA" in r.stderr.decode()


def test_checkpoint_activations_same_run_less_memory(helix_bin, tmp_path):
    """--checkpoint-activations: the same losses to the last digit printed (the C++ tests check the
    gradients bit for bit), with a smaller peak RSS on long rows (6 layers x ~4,000 tokens: the
    per-layer activations of 5 layers, ~8.5 KiB per token each, are not kept: ~160 MiB)."""
    model = tmp_path / "six.gguf"
    run_helix(helix_bin, "tiny-model", "llama", model, "--layers", 6)
    data = tmp_path / "long.jsonl"
    words = "the of and to in a is that for it as was with be by on not he this are".split()
    with open(data, "w") as f:
        for i in range(8):  # ~930 byte tokens each (a space is 3), one per row
            text = " ".join(words[(i * 7 + j * 3) % len(words)] for j in range(250))[:600]
            f.write(json.dumps({"prompt": "Go:", "completion": text}) + "\n")

    def run(*extra, mode="lora"):
        cmd = [helix_bin, "sft", "-m", str(model), "--data", str(data), "--out", str(tmp_path / f"{mode}{len(extra)}.gguf"),
               "--steps", "2", "--lr", "1e-3", "--batch", "4", "--seq-len", "1024", "-t", "2", "--lora-dropout", "0.1",
               "--work-dir", str(tmp_path / f"w-{mode}{len(extra)}")] + (["--full"] if mode == "full" else []) + list(extra)
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, err
        return [m.group(6) for m in STEP.finditer(err)], ru.ru_maxrss / 1024.0

    for mode in ("lora", "full"):
        (plain, rss_plain), (ckpt, rss_ckpt) = run(mode=mode), run("--checkpoint-activations", mode=mode)
        assert len(plain) == 2 and ckpt == plain, (mode, plain, ckpt)
        assert rss_ckpt < rss_plain - 100, (mode, rss_plain, rss_ckpt)  # MiB


def test_lora_dropout_changes_the_run(helix_bin, tiny, tmp_path):
    d, model, _ = tiny
    data = tmp_path / "data.jsonl"
    with open(data, "w") as f:
        for a in range(1, 9):
            f.write(json.dumps({"prompt": f"{a}*2=", "completion": f"{2 * a}"}) + "\n")

    def losses(*extra):
        r = run_helix(helix_bin, "sft", "-m", model, "--data", data, "--out", tmp_path / "a.gguf", "--steps", 4,
                      "--lr", 1e-2, "--lora-rank", 4, "--batch", 2, "--seq-len", 160, "-t", 2,
                      "--work-dir", tmp_path / f"w{len(extra)}", *extra)
        return [float(m.group(6)) for m in STEP.finditer(r.stderr.decode())]

    plain, dropped = losses(), losses("--lora-dropout", "0.3")
    assert plain[0] == pytest.approx(dropped[0], rel=1e-6)  # B = 0 at step 1: dropout cannot show yet
    assert plain[1:] != pytest.approx(dropped[1:], rel=1e-4)
    assert losses("--lora-dropout", "0.3", "--seed", "42") == dropped  # masks are seeded


def test_bad_data_is_reported_with_file_and_line(helix_bin, tiny, tmp_path):
    d, model, _ = tiny
    good = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}'
    lines = [good,
             '{"messages": [oops',
             '{"messages": [{"role": "wizard", "content": "hi"}, {"role": "assistant", "content": "yo"}]}',
             '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}',
             json.dumps({"prompt": "x" * 400, "completion": "y"}),
             good]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    args = ["sft", "-m", model, "--data", bad, "--out", tmp_path / "b.gguf", "--steps", 1, "--seq-len", 128,
            "--batch", 1, "-t", 2]
    r = run_helix(helix_bin, *args, check=False)
    assert r.returncode != 0 and "bad.jsonl:2" in r.stderr.decode(), r.stderr.decode()
    r = run_helix(helix_bin, *args, "--on-bad-data", "skip")
    err = r.stderr.decode()
    for n, what in ((2, ""), (3, "wizard"), (4, "empty"), (5, "longer")):
        assert re.search(rf"skipped .*bad\.jsonl:{n}: .*{what}", err), (n, err)

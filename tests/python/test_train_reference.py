"""`helix sft` end to end on tiny models: the loss falls, the adapter is a llama.cpp-layout LoRA
GGUF (read back with gguf-py), a run killed with SIGKILL resumes from its checkpoint with the same
losses as an uninterrupted run, and bad data is reported by file and line.

The gradients themselves are checked against PyTorch in tests/train (test_train_reference.cpp,
test_optim.cpp) from references made by tests/python/make_train_reference.py.
"""
import json
import os
import re
import subprocess

import gguf
import pytest

from train_test_util import kill_9_when, tiny_llama

STEP = re.compile(r"step (\d+)/(\d+)\s+loss ([0-9.]+)")


@pytest.fixture(scope="module")
def tiny(helix_bin, tmp_path_factory):
    d, model = tiny_llama(helix_bin, tmp_path_factory, "sft")
    data = d / "data.jsonl"
    with open(data, "w") as f:
        for a in range(1, 9):
            for b in range(1, 4):
                f.write(json.dumps({"messages": [{"role": "user", "content": f"{a}+{b}?"},
                                                 {"role": "assistant", "content": f"{a + b}"}]}) + "\n")
    return d, model, data


def sft(helix_bin, model, data, out, *extra):
    return [helix_bin, "sft", "-m", str(model), "--data", str(data), "--out", str(out), "--lora-rank", "4",
            "--lr", "1e-2", "--batch", "4", "--seq-len", "96", "-t", "2", *map(str, extra)]


def losses(stderr):
    return {int(m.group(1)): float(m.group(3)) for m in STEP.finditer(stderr)}


def test_sft_learns_and_writes_a_llama_cpp_lora(helix_bin, tiny):
    d, model, data = tiny
    out = d / "adapter.gguf"
    r = subprocess.run(sft(helix_bin, model, data, out, "--steps", "12"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ls = losses(r.stderr)
    assert sorted(ls) == list(range(1, 13))
    assert ls[12] < 0.6 * ls[1], ls
    assert "tokens/s" in r.stderr and "ETA" in r.stderr
    assert not os.path.exists(str(out) + ".run/stage1-sft.ckpt"), "the checkpoint is removed after a finished run"
    rd = gguf.GGUFReader(str(out))
    f = rd.fields
    assert f["general.type"].contents() == "adapter"
    assert f["adapter.type"].contents() == "lora"
    assert f["adapter.lora.alpha"].contents() == pytest.approx(8.0)
    t = {x.name: [int(s) for s in x.shape] for x in rd.tensors}
    projections = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
    assert len(t) == 2 * 2 * len(projections)  # two layers, A and B each
    assert t["blk.0.attn_q.weight.lora_a"] == [256, 4]      # ne = {n_in, rank}
    assert t["blk.1.ffn_down.weight.lora_b"] == [4, 256]    # ne = {rank, n_out}
    assert t["blk.0.ffn_up.weight.lora_b"] == [4, 512]


def test_sft_resumes_after_kill_9(helix_bin, tiny):
    d, model, data = tiny
    whole = subprocess.run(sft(helix_bin, model, data, d / "whole.gguf", "--steps", "8"), capture_output=True,
                           text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    want = losses(whole.stderr)
    out = d / "killed.gguf"
    kill_9_when(sft(helix_bin, model, data, out, "--steps", "8", "--checkpoint-every", "2"), r"\] step 5/8")
    assert os.path.exists(str(out) + ".run/stage1-sft.ckpt")
    r = subprocess.run(sft(helix_bin, model, data, out, "--steps", "8", "--checkpoint-every", "2"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "resuming stage sft from its checkpoint at step 4" in r.stderr
    got = losses(r.stderr)
    assert sorted(got) == [5, 6, 7, 8], r.stderr  # from the step-4 checkpoint
    for s in got:
        assert got[s] == pytest.approx(want[s], rel=1e-5), (s, got[s], want[s])


def test_sft_reports_bad_data_by_line(helix_bin, tiny):
    d, model, _ = tiny
    bad = d / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
                   '{"messages": [oops\n')
    r = subprocess.run(sft(helix_bin, model, bad, d / "bad.gguf", "--steps", "1"), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0
    assert "bad.jsonl:2" in r.stderr, r.stderr
    r = subprocess.run(sft(helix_bin, model, d / "missing.jsonl", d / "m.gguf"), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0 and "missing.jsonl" in r.stderr
    r = subprocess.run(sft(helix_bin, model, bad, d / "x.gguf", "--lora-targets", "attn_x"), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode != 0 and "attn_x" in r.stderr

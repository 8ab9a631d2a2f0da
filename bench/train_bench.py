#!/usr/bin/env python3
"""Training benchmark: tokens/s and peak RSS of one LoRA SFT configuration (rank 16 on the seven
projections, batch 4 x up to 256 tokens, 2 threads, the default model), Helix's `helix sft`
against PyTorch on the same model (weights dequantized from the GGUF to f32), the same batch
shapes and the same thread count, in one run.

  python3 bench/train_bench.py [--steps 3] [--no-torch] [-m MODEL]

PyTorch runs the model of tests/python/make_train_reference.py (a plain PyTorch decoder written
from the architecture definitions) in float32 with LoRA factors as the only trainable tensors and
a full-vocabulary cross-entropy over the loss positions. Each side runs in its own process; peak
RSS is that process's (wait4). Token ids differ (PyTorch gets random ids with the rendered
samples' lengths and loss counts); the work per step is the same. Needs torch for the comparison
(Debian python3-torch); without it only Helix is measured.
"""
import argparse
import json
import os
import pathlib
import random
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at which but "
         "have an they you were her she there one all we their can has been if more when will would who so no").split()


def make_data(path, n=32, seed=2):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(n):
            q = " ".join(rng.choice(WORDS) for _ in range(40))
            a = " ".join(rng.choice(WORDS) for _ in range(150))
            f.write(json.dumps({"messages": [{"role": "user", "content": "Repeat and continue: " + q},
                                             {"role": "assistant", "content": a}]}) + "\n")


def run_measured(cmd, env=None):
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    out, err = p.stdout.read(), p.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{err}")
    return out, err, ru.ru_maxrss / 1024.0, time.time() - t0  # MiB


def bench_helix(helix, model, data, steps, out):
    cmd = [helix, "sft", "--data", data, "--out", out, "--steps", str(steps), "--lora-rank", "16",
           "--seq-len", "256", "--batch", "4", "-t", "2", "--lr", "1e-4"]
    if model:
        cmd += ["-m", model]
    _, err, rss, _ = run_measured(cmd)
    m = re.search(r"data: (\d+) samples, (\d+) tokens, (\d+) with loss", err)
    n, tokens, loss = (int(x) for x in m.groups())
    rates = [float(x) for x in re.findall(r"([0-9.]+) tokens/s", err)]
    return {"tokens_per_s": rates[-1], "peak_rss_mib": rss, "avg_len": tokens / n, "avg_loss": loss / n}


TORCH_JOB = r'''
import json, math, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import make_train_reference as R
import torch
torch.set_default_dtype(torch.float32)
torch.set_num_threads(2)
model, steps, L, nl = sys.argv[2], int(sys.argv[3]), int(float(sys.argv[4])), int(float(sys.argv[5]))
R.LORA_RANK, R.LORA_ALPHA = 16, 32.0
ref = R.Ref(model)
ref.w = {k: v.float() for k, v in ref.w.items()}
params = []
for il in range(ref.L):
    for t in R.TARGETS:
        n = f"blk.{il}.{t}.weight"
        n_out, n_in = ref.w[n].shape
        A = (torch.rand(16, n_in) * 2 - 1) / math.sqrt(n_in)
        B = torch.zeros(n_out, 16)
        A.requires_grad_(True); B.requires_grad_(True)
        ref.lora[n] = (A, B)
        params += [A, B]
opt = torch.optim.AdamW(params, lr=1e-4)
V = ref.w["token_embd.weight"].shape[0]
rng = np.random.default_rng(0)
rates = []
for step in range(steps + 1):
    toks, tg, st = [], [], []
    for s in range(4):
        ids = rng.integers(3, V, size=L)
        start = len(toks)
        for i in range(L):
            toks.append(int(ids[i])); st.append(start)
            tg.append(int(ids[i + 1]) if i + 1 < L and i + 1 >= L - nl else -1)
    t0 = time.time()
    opt.zero_grad()
    loss = ref.loss(np.asarray(toks), np.asarray(tg), np.asarray(st))
    loss.backward()
    opt.step()
    if step > 0:  # the first step warms up
        rates.append(len(toks) / (time.time() - t0))
print(json.dumps({"tokens_per_s": sum(rates) / len(rates), "torch": torch.__version__}))
'''


def bench_torch(model, steps, avg_len, avg_loss):
    code = TORCH_JOB
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    try:
        out, _, rss, _ = run_measured([sys.executable, f.name, str(ROOT / "tests" / "python"), model, str(steps),
                                       str(avg_len), str(avg_loss)])
    finally:
        os.unlink(f.name)
    r = json.loads(out.strip().splitlines()[-1])
    r["peak_rss_mib"] = rss
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default="")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix")))
    a = ap.parse_args()
    model = a.model or os.path.expanduser("~/.local/share/helix/models/default.gguf")
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data.jsonl")
        make_data(data)
        h = bench_helix(a.helix, model, data, a.steps, os.path.join(d, "a.gguf"))
    print(f"helix:   {h['tokens_per_s']:.1f} tokens/s, peak RSS {h['peak_rss_mib']:.0f} MiB "
          f"(samples of {h['avg_len']:.0f} tokens, {h['avg_loss']:.0f} with loss; batch 4, LoRA r16 x 7, 2 threads)")
    result = {"helix": h}
    if not a.no_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("pytorch: not installed (apt-get install python3-torch); skipped")
        else:
            t = bench_torch(model, a.steps, h["avg_len"], h["avg_loss"])
            result["torch"] = t
            print(f"pytorch: {t['tokens_per_s']:.1f} tokens/s, peak RSS {t['peak_rss_mib']:.0f} MiB (torch {t['torch']})")
            print(f"ratio:   {h['tokens_per_s'] / t['tokens_per_s']:.2f}x tokens/s, "
                  f"{h['peak_rss_mib'] / t['peak_rss_mib']:.2f}x memory (target: >= 2x, <= 0.5x)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""DPO training benchmark: tokens/s of one preference-training configuration (LoRA rank 16 on the
seven projections, pairs of a shared prompt and two answers, the reference's log-probabilities
computed on the fly as a first epoch does, 2 threads), Helix's `helix sft` on a DPO recipe against
PyTorch on the same model and the same shapes, measured in the same run.

  python3 bench/dpo_bench.py [--steps 4] [--pairs 4] [--torch-steps 1] [--no-torch] [-m MODEL] [--json OUT]

Tokens are the policy's (chosen and rejected sequences, prompt included) per optimizer step; each
step also runs the reference forward over the same tokens. Besides tokens/s (wall clock) each side
reports tokens per CPU-second (process CPU time of all threads: Helix's HELIX_PROFILE table,
PyTorch's time.process_time over reference forward + policy forward + backward + optimizer step),
which stays meaningful on a shared, busy machine where wall time is not.

PyTorch runs the decoder of tests/python/make_train_reference.py (written from the architecture
definitions; weights dequantized from the GGUF to f32) with LoRA factors as the only trainable
tensors, the reference as the same model with the adapter off under no_grad, and the DPO loss of
TRL's loss_type="sigmoid". TRL itself is not the peer: TRL 1.16.0 (PyPI, December 2026) needs
accelerate >= 1.10.1, transformers (5.25: torch >= 2.6) and numpy >= 1.26, and the only torch here
is Debian's python3-torch 1.13 (numpy 1.24). That decoder is a plain reference implementation
(per-head attention in Python, f32 weights), not a tuned trainer: the ratio says how far Helix is
from it, not from the best PyTorch can do. Token ids differ between
the sides (PyTorch gets random ids with Helix's rendered lengths); the work per step is the same.
"""
import argparse
import json
import os
import pathlib
import random
import re
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from train_bench import WORDS, run_measured, run_torch_job, torch_python  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def make_pairs(path, n=64, seed=3):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(n):
            q = " ".join(rng.choice(WORDS) for _ in range(30))
            c = " ".join(rng.choice(WORDS) for _ in range(60))
            r = " ".join(rng.choice(WORDS) for _ in range(60))
            f.write(json.dumps({"prompt": "Continue: " + q, "chosen": c, "rejected": r}) + "\n")


RECIPE = """
name = "dpo-bench"
seed = 1
[[stages]]
name = "dpo"
type = "dpo"
steps = {steps}
lr = 1e-4
warmup = 0
seq_len = {seq_len}
batch = 1
lora = {{ rank = 16, alpha = 32 }}
losses = ["dpo"]
dpo = {{ beta = 0.1 }}
[[stages.datasets]]
path = "{data}"
"""


def bench_helix(helix, model, d, steps, pairs):
    data = os.path.join(d, "pairs.jsonl")
    make_pairs(data)
    # One row of seq_len holds `pairs` pairs of ~2 x 130 tokens with the Gemma template.
    rec = os.path.join(d, "dpo.toml")
    with open(rec, "w") as f:
        f.write(RECIPE.format(steps=steps, seq_len=280 * pairs, data=data))
    cmd = [helix, "sft", rec, "--out", os.path.join(d, "a.gguf"), "-t", "2"] + (["-m", model] if model else [])
    _, err, rss, wall = run_measured(cmd, env=dict(os.environ, HELIX_PROFILE="1"))
    cpu = re.search(r"([0-9.]+) tokens per CPU-second", err)
    rates = [float(x) for x in re.findall(r"([0-9.]+) tokens/s", err)]
    log = json.load(open(os.path.join(d, "a.gguf.run", "stage1-dpo.json")))
    tokens = [s["tokens"] for s in log["steps"]]
    return {"tokens_per_s": rates[-1], "tokens_per_cpu_s": float(cpu.group(1)) if cpu else None,
            "peak_rss_mib": rss, "tokens_per_step": sum(tokens) / len(tokens), "steps": len(tokens), "wall_s": wall}


TORCH_JOB = r'''
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import make_train_reference as R
import torch
import torch.nn.functional as F
torch.set_default_dtype(torch.float32)
torch.set_num_threads(2)
model, steps, pairs, seq = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(float(sys.argv[5]))
ref, params = R.lora_float_model(model, 16, 32.0)
opt = torch.optim.AdamW(params, lr=1e-4)
V = ref.w["token_embd.weight"].shape[0]
out_w = ref.w.get("output.weight", ref.w["token_embd.weight"])
rng = np.random.default_rng(0)
n_prompt = seq * 30 // 130  # the prompt's share of each sequence, as in the Helix data


def logp(tokens):
    x = ref.hidden(tokens)
    lp = torch.log_softmax(x[n_prompt - 1:-1] @ out_w.T, -1)
    return lp[torch.arange(len(tokens) - n_prompt), torch.as_tensor(tokens[n_prompt:], dtype=torch.long)].sum()


rates, cpu_rates = [], []
for step in range(steps + 1):
    seqs = [[int(t) for t in rng.integers(3, V, size=seq)] for _ in range(2 * pairs)]
    t0, c0 = time.time(), time.process_time()
    saved, ref.lora = ref.lora, {}
    with torch.no_grad():
        r = [logp(s) for s in seqs]
    ref.lora = saved
    opt.zero_grad()
    p = [logp(s) for s in seqs]
    h = torch.stack([0.1 * ((p[2 * i] - r[2 * i]) - (p[2 * i + 1] - r[2 * i + 1])) for i in range(pairs)])
    loss = -F.logsigmoid(h).mean()
    loss.backward()
    opt.step()
    if step > 0:  # the first step warms up
        rates.append(2 * pairs * seq / (time.time() - t0))
        cpu_rates.append(2 * pairs * seq / (time.process_time() - c0))
print(json.dumps({"tokens_per_s": sum(rates) / len(rates), "tokens_per_cpu_s": sum(cpu_rates) / len(cpu_rates),
                  "torch": torch.__version__}))
'''


def bench_torch(py, model, steps, pairs, seq):
    return run_torch_job(py, TORCH_JOB, model, steps, pairs, seq)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default="")
    ap.add_argument("--steps", type=int, default=4, help="Helix's optimizer steps")
    ap.add_argument("--pairs", type=int, default=4, help="pairs per step (one packed row)")
    ap.add_argument("--torch-steps", type=int, default=1, help="PyTorch's measured steps (after one warm-up step)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--json", default="", help="write the results here")
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix")))
    a = ap.parse_args()
    model = a.model or os.path.expanduser("~/.local/share/helix/models/default.gguf")
    with tempfile.TemporaryDirectory() as d:
        h = bench_helix(a.helix, model, d, a.steps, a.pairs)
    pairs = max(1, round(h["tokens_per_step"] / 260))
    seq = h["tokens_per_step"] / (2 * pairs)
    print(f"helix:   {h['tokens_per_s']:.1f} tokens/s, {h['tokens_per_cpu_s'] or 0:.1f} tokens per CPU-second, "
          f"peak RSS {h['peak_rss_mib']:.0f} MiB ({h['tokens_per_step']:.0f} policy tokens per step, ~{pairs} pairs; "
          f"LoRA r16 x 7, reference forward included, 2 threads)")
    result = {"helix": h, "load_average": os.getloadavg()}
    if not a.no_torch:
        py = torch_python()
        if py is None:
            print("pytorch: not installed (apt-get install python3-torch); skipped")
        else:
            t = bench_torch(py, model, a.torch_steps, pairs, seq)
            result["torch"] = t
            print(f"pytorch: {t['tokens_per_s']:.1f} tokens/s, {t['tokens_per_cpu_s']:.1f} tokens per CPU-second, "
                  f"peak RSS {t['peak_rss_mib']:.0f} MiB (torch {t['torch']}, {pairs} pairs of 2 x {seq:.0f} tokens)")
            print(f"ratio:   {h['tokens_per_s'] / t['tokens_per_s']:.2f}x tokens/s, "
                  f"{(h['tokens_per_cpu_s'] or 0) / t['tokens_per_cpu_s']:.2f}x tokens per CPU-second, "
                  f"{h['peak_rss_mib'] / t['peak_rss_mib']:.2f}x peak RSS")
    print(f"load average {result['load_average'][0]:.1f} (a shared machine: prefer the CPU-second ratio)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

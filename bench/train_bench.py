#!/usr/bin/env python3
"""Training benchmark: tokens/s and peak RSS of one LoRA SFT configuration (rank 16 on the seven
projections, batch 4 x up to 256 tokens, 2 threads, the default model), Helix's `helix sft`
against PyTorch on the same model (weights dequantized from the GGUF to f32), the same batch
shapes and the same thread count, in one run.

  python3 bench/train_bench.py [--steps 3] [--torch-steps N] [--no-torch] [--no-lora-decode] [-m MODEL]

Besides tokens/s (wall clock) each side reports tokens per CPU-second (process CPU time of all
threads: Helix's HELIX_PROFILE table over forward + backward, PyTorch's time.process_time over
forward + backward + optimizer step), which stays meaningful on a shared, busy machine where wall
clock does not. The last rows compare decode speed with and without an adapter (`helix bench
--lora` with a rank-16 random adapter on the seven projections, `helix lora random`): alternating
runs, medians.

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


def make_data(path, n=32, seed=2, q_words=40, a_words=150):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(n):
            q = " ".join(rng.choice(WORDS) for _ in range(q_words))
            a = " ".join(rng.choice(WORDS) for _ in range(a_words))
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
    _, err, rss, _ = run_measured(cmd, env=dict(os.environ, HELIX_PROFILE="1"))
    cpu = re.search(r"([0-9.]+) tokens per CPU-second", err)
    m = re.search(r"data: (\d+) samples, (\d+) tokens, (\d+) with loss", err)
    if m:  # one sample per batch row
        n, tokens, loss = (int(x) for x in m.groups())
    else:  # the recipe runner packs samples into rows of --seq-len tokens
        row = int(re.search(r"rows of (\d+) tokens", err).group(1))
        # 74% of this data's tokens carry a loss (4,832 of 6,528, counted by helix sft before
        # the recipe runner stopped printing it)
        n, tokens, loss = 1, row, round(row * 4832 / 6528)
    rates = [float(x) for x in re.findall(r"([0-9.]+) tokens/s", err)]
    return {"tokens_per_s": rates[-1], "tokens_per_cpu_s": float(cpu.group(1)) if cpu else None,
            "peak_rss_mib": rss, "avg_len": tokens / n, "avg_loss": loss / n}


TORCH_JOB = r'''
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import make_train_reference as R
import torch
torch.set_default_dtype(torch.float32)
torch.set_num_threads(2)
model, steps, L, nl = sys.argv[2], int(sys.argv[3]), int(float(sys.argv[4])), int(float(sys.argv[5]))
ref, params = R.lora_float_model(model, 16, 32.0)
opt = torch.optim.AdamW(params, lr=1e-4)
V = ref.w["token_embd.weight"].shape[0]
rng = np.random.default_rng(0)
rates, cpu_rates = [], []
for step in range(steps + 1):
    toks, tg, st = [], [], []
    for s in range(4):
        ids = rng.integers(3, V, size=L)
        start = len(toks)
        for i in range(L):
            toks.append(int(ids[i])); st.append(start)
            tg.append(int(ids[i + 1]) if i + 1 < L and i + 1 >= L - nl else -1)
    t0, c0 = time.time(), time.process_time()
    opt.zero_grad()
    loss = ref.loss(np.asarray(toks), np.asarray(tg), np.asarray(st))
    loss.backward()
    opt.step()
    if step > 0:  # the first step warms up
        rates.append(len(toks) / (time.time() - t0))
        cpu_rates.append(len(toks) / (time.process_time() - c0))
print(json.dumps({"tokens_per_s": sum(rates) / len(rates), "tokens_per_cpu_s": sum(cpu_rates) / len(cpu_rates),
                  "torch": torch.__version__}))
'''


def torch_python():
    """An interpreter that has torch: this one, else Debian's /usr/bin/python3 (python3-torch),
    given this interpreter's gguf package (pure Python) through PYTHONPATH. (cmd, env) or None."""
    try:
        import torch  # noqa: F401
        return [sys.executable], None
    except ImportError:
        pass
    system = "/usr/bin/python3"
    if not os.path.exists(system) or subprocess.run([system, "-c", "import torch, numpy"], capture_output=True).returncode:
        return None
    import gguf
    shim = tempfile.mkdtemp(prefix="helix-gguf-")
    os.symlink(os.path.dirname(gguf.__file__), os.path.join(shim, "gguf"))
    return [system], dict(os.environ, PYTHONPATH=shim)


def run_torch_job(py, job, *args):
    """Runs a PyTorch job script (its argv: tests/python, then args) in its own process with the
    interpreter of torch_python(); returns the JSON of its last line plus its peak RSS (MiB)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(job)
    try:
        out, _, rss, _ = run_measured(py[0] + [f.name, str(ROOT / "tests" / "python")] + [str(a) for a in args], env=py[1])
    finally:
        os.unlink(f.name)
    r = json.loads(out.strip().splitlines()[-1])
    r["peak_rss_mib"] = rss
    return r


def bench_torch(py, model, steps, avg_len, avg_loss):
    return run_torch_job(py, TORCH_JOB, model, steps, avg_len, avg_loss)


def bench_lora_decode(helix, model, rounds=3):
    """Decode tokens/s of `helix bench` without and with a rank-16 random adapter on the seven
    projections, stored with f16 factors (what `helix sft` writes) and with f32 factors,
    alternating runs; medians."""
    with tempfile.TemporaryDirectory() as d:
        adapters = {}
        for t in ("f16", "f32"):
            adapters[t] = os.path.join(d, f"r16-{t}.gguf")
            subprocess.run([helix, "lora", "random", model, adapters[t], "--rank", "16", "--type", t], check=True,
                           capture_output=True)
        cmd = [helix, "bench", "-m", model, "-t", "2", "--prefill", "16", "--depths", "0", "--decode-tokens", "64"]
        runs = {"base": [], "f16": [], "f32": []}
        for _ in range(rounds):
            for kind in runs:
                out = subprocess.run(cmd + (["--lora", adapters[kind]] if kind in adapters else []), check=True,
                                     capture_output=True, text=True).stdout
                r = json.loads(out[out.index("{"):])
                runs[kind].append(float(r["decode_tps"]["0"]))
    med = {k: sorted(v)[len(v) // 2] for k, v in runs.items()}
    return {"base_tokens_per_s": med["base"], "lora_tokens_per_s": med["f16"], "lora_f32_tokens_per_s": med["f32"],
            "runs": runs, "loss": 1.0 - med["f16"] / med["base"], "loss_f32": 1.0 - med["f32"] / med["base"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default="")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--torch-steps", type=int, default=0, help="PyTorch's measured steps (default: --steps)")
    ap.add_argument("--no-lora-decode", action="store_true")
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix")))
    a = ap.parse_args()
    model = a.model or os.path.expanduser("~/.local/share/helix/models/default.gguf")
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data.jsonl")
        make_data(data)
        h = bench_helix(a.helix, model, data, a.steps, os.path.join(d, "a.gguf"))
    print(f"helix:   {h['tokens_per_s']:.1f} tokens/s, {h['tokens_per_cpu_s'] or 0:.1f} tokens per CPU-second, peak RSS {h['peak_rss_mib']:.0f} MiB "
          f"(samples of {h['avg_len']:.0f} tokens, {h['avg_loss']:.0f} with loss; batch 4, LoRA r16 x 7, 2 threads)")
    result = {"helix": h}
    if not a.no_torch:
        py = torch_python()
        if py is None:
            print("pytorch: not installed (apt-get install python3-torch); skipped")
        else:
            t = bench_torch(py, model, a.torch_steps or a.steps, h["avg_len"], h["avg_loss"])
            result["torch"] = t
            print(f"pytorch: {t['tokens_per_s']:.1f} tokens/s, {t['tokens_per_cpu_s']:.1f} tokens per CPU-second, peak RSS {t['peak_rss_mib']:.0f} MiB (torch {t['torch']})")
            print(f"ratio:   {h['tokens_per_s'] / t['tokens_per_s']:.2f}x tokens/s, "
                  f"{h['peak_rss_mib'] / t['peak_rss_mib']:.2f}x memory (target: >= 2x, <= 0.5x); "
                  f"{(h['tokens_per_cpu_s'] or 0) / t['tokens_per_cpu_s']:.2f}x tokens per CPU-second")
    if not a.no_lora_decode:
        ld = bench_lora_decode(a.helix, model)
        result["lora_decode"] = ld
        print(f"decode:  {ld['base_tokens_per_s']:.1f} tokens/s base, {ld['lora_tokens_per_s']:.1f} with an r16 adapter "
              f"on 7 projections (f16 factors, as helix sft writes): {100 * ld['loss']:.1f}% slower (target: <= 10%); "
              f"f32 factors: {ld['lora_f32_tokens_per_s']:.1f}, {100 * ld['loss_f32']:.1f}% slower")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Full fine-tuning benchmark: tokens/s, tokens per CPU-second and peak RSS of one full fine-tuning
job (every weight trained, AdamW, one row of --seq-len tokens per optimizer step, 2 threads) on a
small float model, in Helix (`helix sft --full`), PyTorch and llama.cpp's own fine-tuning example
(`llama-finetune`, examples/training), measured in one run.

  python3 bench/fullft_bench.py [--steps 6] [--torch-steps 2] [--seq-len 512] [--no-torch]
                                [--llama-finetune PATH | --no-llama] [--json OUT]

The model is an F32 llama written by `helix tiny-model` with a small model's shape (default 8
layers, 512 wide, 8 query and 4 key/value heads of 64, feed-forward 1408, a 32,000-token vocabulary:
56M parameters, 216 MiB), its context length set to --seq-len (llama-finetune trains on windows of
the model's training context). Its vocabulary has no entry for English words, so text falls back to
one token per byte (a space is U+2581, 3 bytes) on every side.

The job, the same on every side: a row of --seq-len tokens per optimizer step, next-token loss,
AdamW over every tensor (embeddings, norms, projections, output head), 2 threads.
  Helix      prompt/completion samples of ~seq_len tokens, one per row (batch 1); the loss covers
             the completion (~95% of the row), the prompt and chat markers are context.
  PyTorch    the plain decoder of tests/python/make_train_reference.py in float32 with every tensor
             trainable; one sequence of Helix's mean row length with Helix's loss count, random ids.
  llama.cpp  llama-finetune on a text file of the same words: windows of seq_len tokens (stride
             seq_len/2), loss on every position, -b = -ub = seq_len so that one window is one step.
Rates are taken between the first and the last reported step (loading and the first, warm-up step
excluded): wall clock, and CPU time of the whole process (all threads; /proc/PID/stat for Helix and
llama.cpp, time.process_time for PyTorch). On a shared, busy machine wall clock says little; the
CPU-second rates are the comparison to read. Peak RSS is each process's (wait4).
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from train_bench import WORDS, run_torch_job, torch_python  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
SHAPE = {"layers": 4, "embd": 512, "ff": 1408, "heads": 8, "kv-heads": 4, "head-dim": 64, "vocab": 16000}


def find_llama_finetune():
    for p in ([os.environ.get("LLAMA_FINETUNE", "")] +
              [str(x) for x in pathlib.Path.home().glob(".cache/helix/llama-cpp-bin-*/build/bin/llama-finetune")]):
        if p and os.access(p, os.X_OK):
            return p
    return None


def make_model(helix, path, seq_len, shape):
    cmd = [helix, "tiny-model", "llama", path, "--type", "F32", "--seed", "1", "--kv",
           f"llama.context_length=u32:{seq_len}"]
    for k, v in shape.items():
        cmd += [f"--{k}", str(v)]
    subprocess.run(cmd, check=True, capture_output=True)
    E, F, L, V = shape["embd"], shape["ff"], shape["layers"], shape["vocab"]
    Q, KV = shape["heads"] * shape["head-dim"], shape["kv-heads"] * shape["head-dim"]
    params = 2 * V * E + E + L * (2 * E + E * Q * 2 + E * KV * 2 + 3 * E * F)
    return {"params": params, "file_mib": os.path.getsize(path) / 2**20, "shape": shape}


def byte_tokens(s):
    """Tokens of s in the model's vocabulary, which has no entry for these words: SentencePiece
    writes each space as U+2581 (3 bytes) and falls back to one token per byte."""
    return 3 + len(s.encode()) + 2 * s.count(" ")  # with the leading U+2581


def text(rng, tokens):
    out = []
    while byte_tokens(" ".join(out + ["between"])) < tokens:
        out.append(rng.choice(WORDS))
    return " ".join(out)


def make_data(d, seq_len, n=24, seed=4):
    """Helix's JSONL (completions that fill a row; the prompt and chat markers take 62 byte tokens)
    and llama.cpp's text file (the same words)."""
    rng = random.Random(seed)
    completions = [text(rng, seq_len - 72) for _ in range(n)]
    jsonl, txt = os.path.join(d, "data.jsonl"), os.path.join(d, "data.txt")
    with open(jsonl, "w") as f:
        for c in completions:
            f.write(json.dumps({"prompt": "Go:", "completion": c}) + "\n")
    with open(txt, "w") as f:
        f.write(" ".join(completions))
    return jsonl, txt


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime of all threads


def run_marked(cmd, marker, env=None):
    """Runs cmd; at each occurrence of the regex `marker` in its stderr (lines end in \\n or \\r)
    records (steps so far, wall time, CPU seconds). Returns (marks, stderr, peak RSS MiB)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    marks, err, buf = [], [], b""
    while True:
        chunk = os.read(p.stderr.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        parts = re.split(rb"[\r\n]", buf)
        buf = parts.pop()
        for line in parts:
            s = line.decode(errors="replace")
            err.append(s)
            if re.search(marker, s):
                try:
                    marks.append((len(marks) + 1, time.time(), cpu_seconds(p.pid)))
                except OSError:
                    pass
    _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed:\n" + "\n".join(err[-30:]))
    return marks, "\n".join(err), ru.ru_maxrss / 1024.0


def rates(marks, tokens_per_step):
    """tokens/s and tokens per CPU-second from the first reported step to the last."""
    if len(marks) < 2:
        raise SystemExit("fewer than two steps were reported; raise --steps")
    (s0, w0, c0), (s1, w1, c1) = marks[0], marks[-1]
    tokens = (s1 - s0) * tokens_per_step
    return {"tokens_per_s": tokens / (w1 - w0), "tokens_per_cpu_s": tokens / max(c1 - c0, 1e-9),
            "measured_steps": s1 - s0}


def bench_helix(helix, model, data, d, steps, seq_len):
    out = os.path.join(d, "helix-out.gguf")
    cmd = [helix, "sft", "--full", "-m", model, "--data", data, "--out", out, "--steps", str(steps),
           "--seq-len", str(seq_len), "--batch", "1", "-t", "2", "--lr", "1e-4", "--warmup", "0"]
    marks, err, rss = run_marked(cmd, r"\] step \d+/\d+")
    log = json.load(open(out + ".run/stage1-sft.json"))
    tokens = [s["tokens"] for s in log["steps"]]
    per_step = sum(tokens[1:]) / max(1, len(tokens) - 1)
    r = rates(marks, per_step)
    r.update({"peak_rss_mib": rss, "tokens_per_step": per_step, "steps": len(tokens)})
    return r


TORCH_JOB = r'''
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import make_train_reference as R
import torch
torch.set_num_threads(2)
model, steps, L, nl = sys.argv[2], int(sys.argv[3]), int(float(sys.argv[4])), int(float(sys.argv[5]))
ref, params = R.full_float_model(model)
opt = torch.optim.AdamW(params, lr=1e-4)
V = ref.w["token_embd.weight"].shape[0]
rng = np.random.default_rng(0)
rates, cpu_rates = [], []
for step in range(steps + 1):
    ids = rng.integers(3, V, size=L)
    tg = np.asarray([int(ids[i + 1]) if i + 1 < L and i + 1 >= L - nl else -1 for i in range(L)])
    t0, c0 = time.time(), time.process_time()
    opt.zero_grad()
    loss = ref.loss(ids, tg, np.zeros(L, dtype=np.int64))
    loss.backward()
    opt.step()
    if step > 0:  # the first step warms up (and allocates AdamW's moments)
        rates.append(L / (time.time() - t0))
        cpu_rates.append(L / (time.process_time() - c0))
print(json.dumps({"tokens_per_s": sum(rates) / len(rates), "tokens_per_cpu_s": sum(cpu_rates) / len(cpu_rates),
                  "measured_steps": len(rates), "torch": torch.__version__}))
'''


def bench_torch(py, model, steps, length, n_loss):
    return run_torch_job(py, TORCH_JOB, model, steps, length, n_loss)


def bench_llama(exe, model, txt, d, seq_len, steps):
    """llama-finetune over the text's windows; the text is cut so that about `steps` + 1 windows
    train (5% of the windows are its validation split)."""
    words, kept = open(txt).read().split(), []
    want = seq_len + 1 + (steps + 2) * seq_len // 2 + 8  # windows = (tokens - seq_len - 1) / (seq_len / 2)
    while words and byte_tokens(" ".join(kept)) < want:
        kept.append(words.pop(0))
    cut = os.path.join(d, "llama.txt")
    with open(cut, "w") as f:
        f.write(" ".join(kept))
    cmd = [exe, "-m", model, "--file", cut, "-c", str(seq_len), "-b", str(seq_len), "-ub", str(seq_len), "-t", "2",
           "-ngl", "0", "--epochs", "1", "-o", os.path.join(d, "llama-out.gguf")]
    marks, err, rss = run_marked(cmd, r"^train: .*data=\d+/\d+")
    r = rates(marks, seq_len)
    r.update({"peak_rss_mib": rss, "tokens_per_step": seq_len, "steps": len(marks),
              "version": "b" + m.group(1) if (m := re.search(r"llama-cpp-bin-(\d+)", exe)) else exe})
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6, help="Helix's and llama.cpp's optimizer steps")
    ap.add_argument("--torch-steps", type=int, default=2, help="PyTorch's measured steps (after one warm-up step)")
    ap.add_argument("--seq-len", type=int, default=512)
    for k, v in SHAPE.items():
        ap.add_argument(f"--{k}", type=int, default=v, help=f"model shape (default {v})")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-llama", action="store_true")
    ap.add_argument("--llama-finetune", default="", help="llama.cpp's llama-finetune (default: $LLAMA_FINETUNE, "
                    "else the llama-cpp-bin build under ~/.cache/helix)")
    ap.add_argument("--json", default="", help="write the results here")
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix")))
    a = ap.parse_args()
    if a.seq_len < 256:
        ap.error("--seq-len must be at least 256 (a Helix sample's prompt and chat markers take 62 tokens)")
    shape = {k: getattr(a, k.replace("-", "_")) for k in SHAPE}
    result = {"load_average_start": os.getloadavg(), "seq_len": a.seq_len}
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "model.gguf")
        result["model"] = info = make_model(a.helix, model, a.seq_len, shape)
        print(f"model:     llama F32, {info['params'] / 1e6:.1f}M parameters, {info['file_mib']:.0f} MiB ({shape})")
        jsonl, txt = make_data(d, a.seq_len)
        h = result["helix"] = bench_helix(a.helix, model, jsonl, d, a.steps, a.seq_len)
        print(f"helix:     {h['tokens_per_s']:.1f} tokens/s, {h['tokens_per_cpu_s']:.1f} tokens per CPU-second, "
              f"peak RSS {h['peak_rss_mib']:.0f} MiB ({h['tokens_per_step']:.0f} tokens per step, "
              f"{h['measured_steps']} steps measured)")
        peers = []
        if not a.no_torch:
            py = torch_python()
            if py is None:
                print("pytorch:   not installed (apt-get install python3-torch); skipped")
            else:
                comp = sum(byte_tokens(json.loads(x)["completion"]) for x in open(jsonl)) / sum(1 for _ in open(jsonl))
                n_loss = min(h["tokens_per_step"] - 1, comp + 11)  # the completion and "<|im_end|>"
                t = result["torch"] = bench_torch(py, model, a.torch_steps, h["tokens_per_step"], n_loss)
                print(f"pytorch:   {t['tokens_per_s']:.1f} tokens/s, {t['tokens_per_cpu_s']:.1f} tokens per CPU-second, "
                      f"peak RSS {t['peak_rss_mib']:.0f} MiB (torch {t['torch']}, {t['measured_steps']} steps measured)")
                peers.append(("pytorch", t))
        exe = None if a.no_llama else (a.llama_finetune or find_llama_finetune())
        if not a.no_llama and not exe:
            print("llama.cpp: no llama-finetune found (build llama.cpp's examples/training, or --llama-finetune PATH)")
        elif exe:
            lc = result["llama_cpp"] = bench_llama(exe, model, txt, d, a.seq_len, a.steps)
            lc["exe"] = exe
            print(f"llama.cpp: {lc['tokens_per_s']:.1f} tokens/s, {lc['tokens_per_cpu_s']:.1f} tokens per CPU-second, "
                  f"peak RSS {lc['peak_rss_mib']:.0f} MiB (llama-finetune {lc['version']}, {lc['measured_steps']} steps measured)")
            peers.append(("llama.cpp", lc))
    for name, p in peers:
        result[f"ratio_{name}"] = r = {"tokens_per_s": h["tokens_per_s"] / p["tokens_per_s"],
                                       "tokens_per_cpu_s": h["tokens_per_cpu_s"] / p["tokens_per_cpu_s"],
                                       "peak_rss": h["peak_rss_mib"] / p["peak_rss_mib"]}
        print(f"vs {name + ':':10} {r['tokens_per_cpu_s']:.2f}x tokens per CPU-second, {r['tokens_per_s']:.2f}x tokens/s, "
              f"{r['peak_rss']:.2f}x peak RSS")
    result["load_average_end"] = os.getloadavg()
    print(f"load average {result['load_average_start'][0]:.1f} -> {result['load_average_end'][0]:.1f} "
          "(a shared machine: prefer the CPU-second ratios)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

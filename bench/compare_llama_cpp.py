#!/usr/bin/env python3
"""Side-by-side speed benchmark: Helix against llama.cpp (PyPI llama-cpp-python, built from source
by scripts/setup.sh) on the same GGUF files and the same thread count, interleaved A B A B ...

For each model it measures, per engine: load time, prefill tokens/s at 64 and 512 prompt tokens,
decode tokens/s at context depth 0 and 1024, and peak resident memory; it reports medians of
--runs runs after a warm-up, the Helix/llama.cpp ratios, the machine's read bandwidth measured in
the same run and the decode roofline (weight bytes read per token / bandwidth).

Models: the default model, and Q8_0 and F16 versions of it made with `helix quantize`.
Output: bench/results/speed.md (markdown table) and bench/results/speed.png (chart).

  python3 bench/compare_llama_cpp.py [--runs 5] [--threads 2] [--models default,q8_0,f16]
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
HELIX = os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix"))
OUT = ROOT / "bench" / "results"

LLAMA_SCRIPT = r"""
import json, sys, time
import numpy as np
import llama_cpp
path, threads, prefill, depths, n_dec = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4]), int(sys.argv[5])
def hwm_kib():  # peak RSS of this process image (ru_maxrss would carry the parent's peak over fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
base_rss = hwm_kib()
t0 = time.perf_counter()
llm = llama_cpp.Llama(model_path=path, n_ctx=max(max(prefill), max(depths) + n_dec) + 16, n_batch=512,
                      n_threads=threads, n_threads_batch=threads, logits_all=False, verbose=False)
load_s = time.perf_counter() - t0
V = llm.n_vocab()
tok = lambda i: 1000 + (i * 7919) % (V - 2000)
def fill(n):
    llm.reset()
    llm.eval([tok(i) for i in range(n)])
fill(8)
out = {"engine": "llama.cpp", "load_s": load_s, "prefill_tps": {}, "decode_tps": {}}
for n in prefill:
    s = time.perf_counter(); fill(n); out["prefill_tps"][str(n)] = n / (time.perf_counter() - s)
for d in depths:
    fill(max(d, 1)); pos = max(d, 1)
    s = time.perf_counter()
    for i in range(n_dec):
        llm.eval([tok(pos + i)])
    out["decode_tps"][str(d)] = n_dec / (time.perf_counter() - s)
out["peak_rss_mib"] = hwm_kib() / 1024.0
out["python_baseline_rss_mib"] = base_rss / 1024.0
print(json.dumps(out))
"""

BANDWIDTH_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <immintrin.h>
#include <pthread.h>
#define N (512ull << 20)
static float* buf; static int T;
static void* work(void* a) { long id = (long)a; size_t n = N / 4 / T; const float* p = buf + id * n;
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < n; i += 32) { s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i)); s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 16)); s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 24)); }
  float r[8]; _mm256_storeu_ps(r, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))); return (void*)(long)(r[0] == 12345.f); }
int main(int c, char** v) { T = atoi(v[1]); buf = aligned_alloc(64, N); for (size_t i = 0; i < N / 4; ++i) buf[i] = 1;
  double best = 0; for (int rep = 0; rep < 5; ++rep) { struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_t th[64]; for (long t = 0; t < T; ++t) pthread_create(&th[t], 0, work, (void*)t); for (int t = 0; t < T; ++t) pthread_join(th[t], 0);
    clock_gettime(CLOCK_MONOTONIC, &b); double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9; if (N / s > best) best = N / s; }
  printf("%f\n", best / 1e9); return 0; }
"""


def read_bandwidth(threads):
    exe = OUT / "bandwidth"
    src = OUT / "bandwidth.c"
    if not exe.exists():
        src.write_text(BANDWIDTH_C)
        subprocess.run(["cc", "-O2", "-mavx2", "-pthread", str(src), "-o", str(exe)], check=True)
    return float(subprocess.run([str(exe), str(threads)], capture_output=True, text=True, check=True).stdout)


def weight_bytes_per_token(path):
    """Bytes of weights a decode step reads: every matrix once (token embedding rows excluded
    unless the output head is tied to it)."""
    import gguf
    r = gguf.GGUFReader(path)
    names = {t.name for t in r.tensors}
    total = 0
    for t in r.tensors:
        if t.name == "token_embd.weight" and "output.weight" in names:
            continue
        total += int(t.n_bytes)
    return total


def run_helix(path, threads, prefill, depths, n_dec):
    r = subprocess.run([HELIX, "bench", "-m", path, "-t", str(threads), "--prefill", ",".join(map(str, prefill)),
                        "--depths", ",".join(map(str, depths)), "--decode-tokens", str(n_dec)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_llama(path, threads, prefill, depths, n_dec):
    r = subprocess.run([sys.executable, "-c", LLAMA_SCRIPT, path, str(threads), json.dumps(prefill),
                        json.dumps(depths), str(n_dec)], capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def median_of(runs, key, sub=None):
    vals = [r[key][sub] if sub else r[key] for r in runs]
    return statistics.median(vals)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="default,q8_0,f16")
    ap.add_argument("--decode-tokens", type=int, default=32)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    default = os.environ.get("HELIX_MODEL", os.path.expanduser("~/.local/share/helix/models/default.gguf"))
    models = {}
    for m in args.models.split(","):
        if m == "default":
            models[m] = default
        else:
            p = OUT / f"default-{m}.gguf"
            if not p.exists():
                subprocess.run([HELIX, "quantize", default, str(p), m.upper()], check=True,
                               stdout=subprocess.DEVNULL)
            models[m] = str(p)
    prefill, depths = [64, 512], [0, 1024]
    bw = read_bandwidth(args.threads)
    rows = []
    for name, path in models.items():
        print(f"[{name}] warm-up", file=sys.stderr)
        run_helix(path, args.threads, [8], [0], 4)
        run_llama(path, args.threads, [8], [0], 4)
        h, l = [], []
        for i in range(args.runs):  # interleaved: A B A B ...
            print(f"[{name}] run {i + 1}/{args.runs}", file=sys.stderr)
            h.append(run_helix(path, args.threads, prefill, depths, args.decode_tokens))
            l.append(run_llama(path, args.threads, prefill, depths, args.decode_tokens))
        wb = weight_bytes_per_token(path)
        roof = bw * 1e9 / wb
        for metric, key, sub in [("prefill 64 (tok/s)", "prefill_tps", "64"), ("prefill 512 (tok/s)", "prefill_tps", "512"),
                                 ("decode @0 (tok/s)", "decode_tps", "0"), ("decode @1024 (tok/s)", "decode_tps", "1024"),
                                 ("peak RSS (MiB)", "peak_rss_mib", None), ("load (s)", "load_s", None)]:
            hv, lv = median_of(h, key, sub), median_of(l, key, sub)
            rows.append((name, metric, hv, lv, hv / lv))
        rows.append((name, "decode roofline (tok/s)", roof, roof, 1.0))
        rows.append((name, "decode @0 share of roofline", median_of(h, "decode_tps", "0") / roof,
                     median_of(l, "decode_tps", "0") / roof,
                     median_of(h, "decode_tps", "0") / median_of(l, "decode_tps", "0")))
    md = [f"Read bandwidth: {bw:.1f} GB/s ({args.threads} threads). Medians of {args.runs} interleaved runs.",
          "", "| model | metric | Helix | llama.cpp | Helix / llama.cpp |", "| --- | --- | ---: | ---: | ---: |"]
    for r in rows:
        md.append(f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f} |")
    md.append("")
    md.append("llama.cpp's RSS includes the Python interpreter (about "
              f"{statistics.median(x['python_baseline_rss_mib'] for x in l):.0f} MiB before loading).")
    (OUT / "speed.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        speed = [r for r in rows if "tok/s" in r[1] and "roofline" not in r[1]]
        fig, ax = plt.subplots(figsize=(11, 4.5))
        labels = [f"{r[0]}\n{r[1].replace(' (tok/s)', '')}" for r in speed]
        x = range(len(speed))
        ax.bar([i - 0.2 for i in x], [r[2] for r in speed], 0.4, label="Helix")
        ax.bar([i + 0.2 for i in x], [r[3] for r in speed], 0.4, label="llama.cpp")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylabel("tokens/s")
        ax.set_yscale("log")
        ax.set_title(f"Helix vs llama.cpp, {args.threads} threads (medians of {args.runs})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(OUT / "speed.png", dpi=110)
    except ImportError:
        print("matplotlib missing: no chart", file=sys.stderr)


if __name__ == "__main__":
    main()

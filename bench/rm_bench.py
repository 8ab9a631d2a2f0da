#!/usr/bin/env python3
"""Reward-model scoring benchmark: sequences/s and tokens/s of `helix rm score` on N preference
pairs (2N sequences: prompt + answer, one score per head at the answer's end) against PyTorch
scoring the same number of sequences of the same lengths with the same weights, measured in the
same run with the same thread count.

  python3 bench/rm_bench.py --rm RM.gguf [--pairs 32] [--threads 2] [--data FILE.jsonl] [--json OUT]

Helix: `helix rm score --rm RM --json` reports the scoring itself (after loading and rendering):
wall time and process CPU time of all threads, from which sequences/s, tokens/s and tokens per
CPU-second. The pairs are the first N records of --data (default: the citation eval set of
recipes/prefs, the longest of the generated aspects).

PyTorch: the plain decoder of tests/python/make_train_reference.py (written from the architecture
definitions; the base's weights dequantized from the GGUF to f32 with gguf-py), with the reward
model's LoRA factors applied and its heads as one linear layer (w·rmsnorm(h) + b) on the last
position, under torch.no_grad with torch.set_num_threads(THREADS); each sequence is one forward,
as Helix's packed batches hold one sequence's attention to itself. Its token ids are random ids
with the Helix side's lengths (the work per token is the same). That decoder is a reference
implementation (per-head attention in Python, f32 weights), not a tuned inference engine: the
ratio says how far Helix is from it, not from the best PyTorch can do. On a shared, busy machine
compare tokens per CPU-second; wall-clock rates depend on what else runs.
"""
import argparse
import json
import os
import pathlib
import re
import resource
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from train_bench import run_measured, run_torch_job, torch_python  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCORED = re.compile(r"scored (\d+) sequences \((\d+) tokens\) in ([0-9.]+) s: ([0-9.]+) sequences/s, ([0-9.]+) tokens/s, "
                    r"([0-9.]+) tokens per CPU-second")


def bench_helix(helix, rm, data, threads):
    cmd = [helix, "rm", "score", "--rm", rm, "--json", "-t", str(threads), data]
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out, err, rss, wall = run_measured(cmd)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = SCORED.search(err)
    if not m:
        raise SystemExit(f"helix rm score printed no timing line:\n{err[-2000:]}")
    n, tokens, secs, seq_s, tok_s, tok_cpu = m.groups()
    scores = [json.loads(x) for x in out.splitlines() if x.strip()]
    return {"sequences": int(n), "tokens": int(tokens), "seconds": float(secs), "sequences_per_s": float(seq_s),
            "tokens_per_s": float(tok_s), "tokens_per_cpu_s": float(tok_cpu), "peak_rss_mib": rss,
            "process_wall_s": wall, "process_cpu_s": (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime),
            "records": len(scores)}


TORCH_JOB = r'''
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import make_train_reference as R
import gguf
import torch
torch.set_default_dtype(torch.float32)
model, rm_path, n, length, threads = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(threads)
rm = gguf.GGUFReader(rm_path)
field = lambda k: rm.fields[k]
aspects = [bytes(field("helix.rm.aspects").parts[i]).decode() for i in field("helix.rm.aspects").data]
t = {x.name: torch.from_numpy(np.array(x.data, dtype=np.float32)) for x in rm.tensors}
ref = R.Ref(model)
ref.w = {k: v.float() for k, v in ref.w.items()}
rank = None
for name, a in t.items():
    if name.endswith(".lora_a"):
        base = name[:-len(".lora_a")]
        A, B = a.reshape(-1, ref.w[base].shape[1]), t[base + ".lora_b"]
        B = B.reshape(ref.w[base].shape[0], -1)
        ref.lora[base] = (A, B)
        rank = A.shape[0]
if rank:
    R.LORA_RANK = rank
    R.LORA_ALPHA = float(field("adapter.lora.alpha").parts[-1][0])
W = torch.stack([t[f"rm.head.{a}.weight"].reshape(-1) for a in aspects])  # [heads, n_embd]
b = torch.stack([t[f"rm.head.{a}.bias"].reshape(-1)[0] for a in aspects])
V = ref.w["token_embd.weight"].shape[0]
rng = np.random.default_rng(0)
seqs = [[int(x) for x in rng.integers(3, V, size=length)] for _ in range(n + 1)]
with torch.no_grad():
    ref.hidden(seqs[0][:16])  # warm-up
    t0, c0 = time.time(), time.process_time()
    scores = [(W @ ref.hidden(s)[-1] + b).tolist() for s in seqs[1:]]
    wall, cpu = time.time() - t0, time.process_time() - c0
print(json.dumps({"sequences": n, "tokens": n * length, "seconds": wall, "sequences_per_s": n / wall,
                  "tokens_per_s": n * length / wall, "tokens_per_cpu_s": n * length / cpu, "torch": torch.__version__,
                  "lora_rank": rank, "heads": aspects}))
'''


def bench_torch(py, model, rm, n, length, threads):
    return run_torch_job(py, TORCH_JOB, model, rm, n, length, threads)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rm", required=True, help="a reward model from helix rm train")
    ap.add_argument("-m", "--model", default="", help="its base (default: the installed default model)")
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--torch-sequences", type=int, default=4, help="sequences PyTorch scores (it is slow)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=str(ROOT / "recipes" / "prefs" / "data" / "citation.eval.jsonl"))
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--json", default="")
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix")))
    a = ap.parse_args()
    model = a.model or os.path.expanduser("~/.local/share/helix/models/default.gguf")
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "pairs.jsonl")
        with open(a.data) as src, open(data, "w") as dst:
            dst.writelines([x for x in src if x.strip()][:a.pairs])
        h = bench_helix(a.helix, a.rm, data, a.threads)
    length = round(h["tokens"] / h["sequences"])
    print(f"helix:   {h['sequences_per_s']:.2f} sequences/s, {h['tokens_per_s']:.1f} tokens/s, "
          f"{h['tokens_per_cpu_s']:.1f} tokens per CPU-second ({h['sequences']} sequences of ~{length} tokens, "
          f"{a.threads} threads), peak RSS {h['peak_rss_mib']:.0f} MiB")
    result = {"helix": h, "threads": a.threads, "rm": a.rm, "load_average": os.getloadavg()}
    if not a.no_torch:
        py = torch_python()
        if py is None:
            print("pytorch: not installed (apt-get install python3-torch); skipped")
        else:
            t = bench_torch(py, model, a.rm, a.torch_sequences, length, a.threads)
            result["torch"] = t
            print(f"pytorch: {t['sequences_per_s']:.2f} sequences/s, {t['tokens_per_s']:.1f} tokens/s, "
                  f"{t['tokens_per_cpu_s']:.1f} tokens per CPU-second ({t['sequences']} sequences of {length} tokens, "
                  f"torch {t['torch']}), peak RSS {t['peak_rss_mib']:.0f} MiB")
            result["ratio"] = {k: h[k] / t[k] for k in ("sequences_per_s", "tokens_per_s", "tokens_per_cpu_s")}
            print("ratio:   " + ", ".join(f"{v:.2f}x {k}" for k, v in result["ratio"].items()))
    print(f"load average {result['load_average'][0]:.1f} (a shared machine: prefer the CPU-second ratio)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()

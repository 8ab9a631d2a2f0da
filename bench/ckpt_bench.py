#!/usr/bin/env python3
"""Activation checkpointing's cost and saving: `helix sft` (LoRA r16 on the seven projections, the
default model, 2 threads) with and without --checkpoint-activations, on rows of --seq-len tokens,
alternating runs; peak RSS (wait4), tokens/s and tokens per CPU-second (HELIX_PROFILE: process CPU
time over forward + backward, meaningful on a busy machine where wall clock is not).

  python3 bench/ckpt_bench.py [--seq-len 1024] [--batch 1] [--steps 3] [--rounds 2] [-m MODEL] [--json OUT]

Each sample is ~900 tokens with Gemma's tokenizer, one per row, so attention spans whole rows.
"""
import argparse
import json
import os
import pathlib
import re
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from train_bench import make_data, run_measured  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(helix, model, data, d, a, ckpt, k):
    out = os.path.join(d, f"a{int(ckpt)}-{k}.gguf")
    cmd = [helix, "sft", "-m", model, "--data", data, "--out", out, "--work-dir", out + ".run", "--steps", str(a.steps),
           "--lora-rank", "16", "--seq-len", str(a.seq_len), "--batch", str(a.batch), "-t", "2", "--lr", "1e-4"]
    if ckpt:
        cmd.append("--checkpoint-activations")
    _, err, rss, wall = run_measured(cmd, env=dict(os.environ, HELIX_PROFILE="1"))
    log = json.load(open(out + ".run/stage1-sft.json"))
    cpu = re.search(r"([0-9.]+) tokens per CPU-second", err)
    return {"peak_rss_mib": rss, "tokens_per_s": float(re.findall(r"([0-9.]+) tokens/s", err)[-1]),
            "tokens_per_cpu_s": float(cpu.group(1)), "tokens_per_step": sum(s["tokens"] for s in log["steps"]) / len(log["steps"]),
            "losses": [s["loss"] for s in log["steps"]], "wall_s": wall}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default=os.path.expanduser("~/.local/share/helix/models/default.gguf"))
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", default="")
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix")))
    a = ap.parse_args()
    runs = {"plain": [], "checkpointed": []}
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data.jsonl")
        make_data(data, n=16, seed=5, q_words=30, a_words=820)
        for r in range(a.rounds):
            for name in ("plain", "checkpointed") if r % 2 == 0 else ("checkpointed", "plain"):
                x = run(a.helix, a.model, data, d, a, name == "checkpointed", r)
                runs[name].append(x)
                print(f"{name:13} peak RSS {x['peak_rss_mib']:.0f} MiB, {x['tokens_per_cpu_s']:.1f} tokens per CPU-second, "
                      f"{x['tokens_per_s']:.1f} tokens/s, {x['tokens_per_step']:.0f} tokens per step", flush=True)
    med = lambda k, name: sorted(x[k] for x in runs[name])[len(runs[name]) // 2]  # noqa: E731
    res = {"seq_len": a.seq_len, "batch": a.batch, "runs": runs, "load_average": os.getloadavg(),
           "same_losses": all(p["losses"] == c["losses"] for p, c in zip(runs["plain"], runs["checkpointed"]))}
    for k in ("peak_rss_mib", "tokens_per_cpu_s", "tokens_per_s"):
        res[k] = {n: med(k, n) for n in runs}
    saved = res["peak_rss_mib"]["plain"] - res["peak_rss_mib"]["checkpointed"]
    cost = 1 - res["tokens_per_cpu_s"]["checkpointed"] / res["tokens_per_cpu_s"]["plain"]
    res["saved_mib"], res["cpu_cost"] = saved, cost
    print(f"checkpointing saves {saved:.0f} MiB of peak RSS ({saved / res['peak_rss_mib']['plain']:.0%}) and costs "
          f"{cost:.0%} of the tokens per CPU-second; identical losses: {res['same_losses']}; "
          f"load average {res['load_average'][0]:.1f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()

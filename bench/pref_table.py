#!/usr/bin/env python3
"""The preference table of issue 14: the held-out rate of each preferred behaviour for the default
model with a starting adapter, after DPO, and after DPO with best-of-N reranking by a reward model.

For each held-out prompt of recipes/prefs/dpo_data/rm_{format,politeness,citation}.eval.jsonl (the
prompts of the reward models' set that neither the reward model nor DPO trained on) every column
asks `helix rm answer` (all prompts of a file in one process) for one answer:
  greedy columns   --temp 0 (as the recipe's evaluations do)
  best-of columns  N samples (--temp T, seeds S..S+N-1) reranked by `--best-of N --rm RM
                   --rm-aspect ASPECT`, the head of the aspect the prompt tests
and scores it by rules, not by a model (the rules of src/train/eval_metrics.cpp, restated here):
  format      format_valid: "json" parses as one JSON value (with "keys": an object with exactly them); "list" every non-blank line starts "- "
  politeness  format_valid "regex": the answer opens with one of the chosen replies' polite openers
  citation    citation_correct: the set of [n] cited equals the gold passages (all within 1..n)
  stops       greedy columns only: the share of 8 open prompts (unlike the training data) whose
              answer ends with the end of turn within 96 tokens (a model that cannot stop prints
              text after its answer)

    python3 bench/pref_table.py --column start=ADAPTER --column dpo=ADAPTER \
        --column "dpo+best-of-4=ADAPTER" --best-of 4 --rm RM.gguf --out DIR [--max 16]

A column named with "best-of" uses the reranking; for it the table also gives one sample's rate and the
oracle (some sample right), which tell a weak reranker from samples that are all wrong. Writes DIR/pref_table.{json,md,svg} and every
answer to DIR/pref_table.answers.jsonl.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
ASPECTS = {"format": "format_valid", "politeness": "format_valid", "citation": "citation_correct"}
# Prompts unlike the training data: a DPO adapter that cannot stop prints text after its answer.
OPEN_PROMPTS = ["Hi", "Hello! Who are you?", "Tell me about Paris.", "Write a short poem about the sea.",
                "What is 2+2?", "Give me one tip for sleeping better.", "What is your favourite colour?",
                "Thank you!"]


def cited(text):
    """[n] and [n, m] markers in order of first use, as eval_metrics.cpp's cited_passages."""
    out = []
    for m in re.finditer(r"\[([0-9][0-9, ]*)\]", text):
        for part in re.split(r"[ ,]+", m.group(1).strip()):
            if part.isdigit() and int(part) not in out:
                out.append(int(part))
    return out


def format_valid(answer, meta):
    a = answer.strip()
    fmt = meta.get("format", "text")
    if fmt == "json":  # with "keys": an object with exactly those keys
        try:
            v = json.loads(a)
        except ValueError:
            return False
        if "keys" in meta:
            return isinstance(v, dict) and set(v) == set(meta["keys"]) and len(v) == len(meta["keys"])
        return bool(a)
    if fmt == "list":
        lines = [x.strip() for x in a.split("\n") if x.strip()]
        return bool(lines) and all(x.startswith("- ") and len(x) >= 3 for x in lines)
    if fmt == "regex":
        return re.fullmatch(meta["pattern"], a, re.S) is not None
    return bool(a)


def citation_correct(answer, meta):
    gold, n = set(meta.get("citations", [])), meta.get("n_passages", 0)
    c = cited(answer)
    return all(1 <= x and (n == 0 or x <= n) for x in c) and set(c) == gold


def score(aspect, answer, meta):
    return citation_correct(answer, meta) if aspect == "citation" else format_valid(answer, meta)


def answer_all(helix, model, adapter, path, max_new, best_of, rm, aspect, temp, seed):
    """`helix rm answer`: every record of the eval file in one process; the answers in order."""
    cmd = ["nice", "-n", "15", helix, "rm", "answer", "--eval", path, "-n", str(max_new), "-t", "2"]
    if model:
        cmd += ["-m", model]
    if adapter and adapter != "none":
        cmd += ["--lora", adapter]
    if best_of > 1:
        cmd += ["--temp", str(temp), "--seed", str(seed), "--best-of", str(best_of), "--rm", rm, "--rm-aspect", aspect]
    else:
        cmd += ["--temp", "0"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"helix rm answer failed ({r.returncode}): {r.stderr[-2000:]}")
    return [json.loads(x) for x in r.stdout.splitlines() if x.strip()]


def ends(helix, model, adapter, prompt, max_new):
    """Whether the greedy answer of `helix run --chat` ends (end of turn) within max_new tokens."""
    cmd = ["nice", "-n", "15", helix, "run", "--chat", "-p", prompt, "-n", str(max_new), "-t", "2", "--temp", "0"]
    cmd += (["-m", model] if model else []) + (["--lora", adapter] if adapter and adapter != "none" else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"helix run failed ({r.returncode}): {r.stderr[-2000:]}")
    m = re.search(r"decode: (\d+) tokens", r.stderr)
    return r.stdout.rstrip("\n"), bool(m) and int(m.group(1)) < max_new


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", os.path.join(ROOT, "build", "helix")))
    ap.add_argument("-m", "--model", default="")
    ap.add_argument("--column", action="append", required=True, help="NAME=ADAPTER (or NAME=none)")
    ap.add_argument("--rm", default="")
    ap.add_argument("--best-of", type=int, default=4)
    ap.add_argument("--temp", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max", type=int, default=16, help="held-out prompts per aspect")
    ap.add_argument("--data", default=os.path.join(ROOT, "recipes", "prefs", "dpo_data"))
    ap.add_argument("--aspects", default=",".join(ASPECTS), help="comma-separated subset of " + ", ".join(ASPECTS))
    ap.add_argument("--no-stops", action="store_true", help="skip the open prompts' stop check")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    aspects = {k: ASPECTS[k] for k in a.aspects.split(",")}
    os.makedirs(a.out, exist_ok=True)
    cols = [c.split("=", 1) for c in a.column]
    max_new = {"format": 48, "politeness": 40, "citation": 40}
    table, answers, samples = {}, [], {}
    t0 = time.time()
    for name, adapter in cols:
        best = a.best_of if "best-of" in name else 1
        if best > 1 and not a.rm:
            raise SystemExit(f"column {name} reranks: give --rm RM.gguf")
        for aspect, metric in aspects.items():
            recs = [json.loads(x) for x in open(os.path.join(a.data, f"rm_{aspect}.eval.jsonl")) if x.strip()][:a.max]
            sub = os.path.join(a.out, f"prompts.{aspect}.jsonl")
            with open(sub, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in recs)
            got = answer_all(a.helix, a.model, adapter, sub, max_new[aspect], best, a.rm, aspect, a.temp, a.seed)
            right, any_right, sample_right, n_samples = 0, 0, 0, 0
            for i, (rec, g) in enumerate(zip(recs, got)):
                ok = score(aspect, g["answer"], rec["meta"])
                right += ok
                oks = [score(aspect, x, rec["meta"]) for x in g.get("samples", [])]
                any_right += any(oks)
                sample_right += sum(oks)
                n_samples += len(oks)
                answers.append(dict(g, column=name, aspect=aspect, i=i, ok=ok, samples_ok=oks))
            print(f"{name:>16} {aspect:<10} right {right}/{len(recs)}  ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
            row = table.setdefault(aspect, {"metric": metric, "n": len(recs)})
            row[name] = right / max(1, len(recs))
            if n_samples:  # what the reranker had to choose from: one sample's rate, and "some sample was right"
                samples.setdefault(aspect, {})[name] = {"sample_rate": sample_right / n_samples,
                                                        "oracle": any_right / max(1, len(recs))}
        if best == 1 and not a.no_stops:  # open prompts: does the greedy answer end (end of turn) within 96 tokens?
            ended = 0
            for i, prompt in enumerate(OPEN_PROMPTS):
                ans, e = ends(a.helix, a.model, adapter, prompt, 96)
                ended += bool(e)
                answers.append({"column": name, "aspect": "stops", "i": i, "answer": ans, "ok": bool(e)})
            table.setdefault("stops", {"metric": "ended within 96 tokens", "n": len(OPEN_PROMPTS)})[name] = \
                ended / len(OPEN_PROMPTS)
    names = [n for n, _ in cols]
    md = "| aspect (held-out prompts) | metric | " + " | ".join(names) + " |\n"
    md += "| --- | --- |" + " ---: |" * len(names) + "\n"
    for aspect, row in table.items():
        md += f"| {aspect} ({row['n']}) | {row['metric']} | " + " | ".join(
            f"{row[n]:.2f}" if n in row else "-" for n in names) + " |\n"
    if samples:
        md += (f"\nBest-of columns' samples (temperature {a.temp}): the rate of one sample, and the share of prompts "
               f"where at least one of the {a.best_of} samples was right (what a perfect reranker would reach).\n\n"
               "| aspect | column | one sample | some sample (oracle) | chosen by the reward model |\n| --- | --- | ---: | ---: | ---: |\n")
        for aspect, cs in samples.items():
            for n, v in cs.items():
                md += f"| {aspect} | {n} | {v['sample_rate']:.2f} | {v['oracle']:.2f} | {table[aspect][n]:.2f} |\n"
    res = {"columns": dict(cols), "rm": a.rm, "best_of": a.best_of, "temp": a.temp, "table": table, "samples": samples,
           "seconds": round(time.time() - t0, 1), "load": os.getloadavg()}
    json.dump(res, open(os.path.join(a.out, "pref_table.json"), "w"), indent=2)
    open(os.path.join(a.out, "pref_table.md"), "w").write(md)
    with open(os.path.join(a.out, "pref_table.answers.jsonl"), "w") as f:
        for x in answers:
            f.write(json.dumps(x, ensure_ascii=False) + "\n")
    from eval_chart import grouped_bars
    grouped_bars(os.path.join(a.out, "pref_table.svg"), "held-out rate of the preferred behaviour (rules)",
                 list(table), {n: [table[k].get(n, 0) for k in table] for n in names})
    print(md)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""ChatFile's evaluation: minutes of a Chinese meeting transcript and key points + cited answers for a
long English report, scored against the answer key of scripts/make_chatfile_eval.py.

Scores (0..1):
  topic coverage      gold topics whose keyword appears in a minutes topic (title or summary)
  decision recall     gold decisions whose keyword appears in the minutes' decisions
  action recall       gold action items whose keyword appears in a minutes task; owner / due accuracy over those
  key-point recall    report facts whose answer (a figure or name) appears in the key points
  answer accuracy     questions whose answer contains the gold figure or name
  citation precision  cited passages [n] that hold the gold figure or name, over all citations

Times: wall and CPU seconds of each helix run (CPU: the child's user + system time, the fair figure on a
loaded machine), the first question's and the follow-ups' time to the first token; with --prefix-compare N
the first N questions are asked again with --no-prefix-cache, to show what reusing the document's prompt
prefix (instructions + pinned passages) saves on a follow-up.

  HELIX_BIN=build/helix python3 bench/chatfile_eval.py --size small [--questions N] [--json OUT] [--svg OUT]
      [--extra '--no-adapter'] [--prefix-compare 4]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


CPU = {}  # command's task -> CPU seconds of the last run


def run(cmd):
    t, c = time.time(), children_cpu()
    print(f"running {' '.join(cmd[1:])[:160]}", file=sys.stderr, flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # stderr (progress) goes to the terminal
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}")
    CPU["last"] = children_cpu() - c
    return json.loads(p.stdout), time.time() - t


def ttfts(answers):
    """(the first answer's time to the first token, the mean of the follow-ups')."""
    t = [a["usage"]["first_token_s"] for a in answers]
    return round(t[0], 2), (round(sum(t[1:]) / len(t[1:]), 2) if len(t) > 1 else None)


def text_of(v):
    return json.dumps(v, ensure_ascii=False)


def score_minutes(m, gold):
    topics = text_of(m.get("topics", []))
    decisions = text_of(m.get("decisions", []))
    cov = sum(any(k in topics for k in t["keywords"]) for t in gold["topics"]) / len(gold["topics"])
    dec = sum(d["keyword"] in decisions for d in gold["decisions"]) / len(gold["decisions"])
    found = owner = due = 0
    for g in gold["action_items"]:
        hit = next((a for a in m.get("action_items", []) if g["keyword"] in a["task"]), None)
        if hit:
            found += 1
            owner += hit.get("owner") == g["owner"]
            due += hit.get("due") == g["due"]
    n = len(gold["action_items"])
    return {"topic_coverage": cov, "decision_recall": dec, "action_recall": found / n,
            "owner_accuracy": owner / found if found else 0.0, "due_accuracy": due / found if found else 0.0}


def score_key_points(kp, facts):
    t = text_of(kp)
    return {"key_point_recall": sum(f["answer"] in t for f in facts) / len(facts)}


def cited_hold(a, fact):
    """For each passage the answer cites: does it hold the gold figure or name?"""
    return [fact["answer"] in a["passages"][n - 1]["text"] for n in a["citations"]]


def score_answers(answers, facts):
    right = cited = good = 0
    for a, f in zip(answers, facts):
        right += f["answer"] in a["answer"]
        hold = cited_hold(a, f)
        cited += len(hold)
        good += sum(hold)
    return {"answer_accuracy": right / len(facts), "citation_precision": good / cited if cited else 0.0}


def svg_bars(scores, path, title):
    names = list(scores)
    w, bar, gap = 640, 22, 8
    h = 40 + len(names) * (bar + gap)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="13">',
           f'<text x="10" y="22" font-size="15">{title}</text>']
    for i, k in enumerate(names):
        y = 36 + i * (bar + gap)
        v = scores[k]
        out.append(f'<text x="10" y="{y + 16}">{k.replace("_", " ")}</text>')
        out.append(f'<rect x="180" y="{y}" width="{int(380 * v)}" height="{bar}" fill="#4a7bd0"/>')
        out.append(f'<text x="{186 + int(380 * v)}" y="{y + 16}">{v:.2f}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="small", choices=["tiny", "small", "full", "xl"])
    ap.add_argument("--questions", type=int, default=0, help="ask only the first N questions (0: all)")
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", os.path.join(ROOT, "build", "helix")))
    ap.add_argument("--extra", default="", help="more helix chatfile flags, e.g. '--no-adapter --parallel 2'")
    ap.add_argument("--json", help="write the scores and timings here")
    ap.add_argument("--svg", help="write a bar chart of the scores here")
    ap.add_argument("--skip-minutes", action="store_true", help="only the report (key points and questions)")
    ap.add_argument("--prefix-compare", type=int, default=0,
                    help="ask the first N questions again with --no-prefix-cache (follow-up time without the reuse)")
    ap.add_argument("--chart-from", nargs="+", metavar="LABEL=JSON",
                    help="draw the scores of earlier --json runs side by side into --svg, and stop")
    a = ap.parse_args()
    if a.chart_from:
        sys.path.insert(0, os.path.join(ROOT, "bench"))
        from eval_chart import grouped_bars
        runs = {x.split("=", 1)[0]: json.load(open(x.split("=", 1)[1]))["scores"] for x in a.chart_from}
        keys = [k for k in next(iter(runs.values())) if all(k in r for r in runs.values())]
        grouped_bars(a.svg, "helix chatfile: scores by run", [k.replace("_", " ") for k in keys],
                     {n: [r[k] for k in keys] for n, r in runs.items()})
        return
    work = tempfile.mkdtemp(prefix="chatfile-eval-")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_chatfile_eval.py"), work, "--size", a.size],
                   check=True, capture_output=True)
    gold = json.load(open(os.path.join(work, "gold.json"), encoding="utf-8"))
    base = [a.helix, "chatfile", "--json", "--cache", os.path.join(work, "cache")] + a.extra.split()
    meeting = os.path.join(work, gold["meeting"]["file"])
    report = os.path.join(work, gold["report"]["file"])
    facts = gold["report"]["facts"][: a.questions or None]
    if a.skip_minutes:
        m, t_min, c_min = {"minutes": None, "tokens": None}, 0.0, 0.0
    else:
        m, t_min = run(base + [meeting, "--minutes"])
        c_min = CPU["last"]
    k, t_kp = run(base + [report, "--key-points"])
    c_kp = CPU["last"]
    asks = [x for f in facts for x in ("--ask", f["question"])]
    q, t_qa = run(base + [report, "--no-history"] + asks)
    c_qa = CPU["last"]
    scores = {}
    if m["minutes"] is not None:
        scores.update(score_minutes(m["minutes"], gold["meeting"]))
    scores.update(score_key_points(k["key_points"]["key_points"], gold["report"]["facts"]))
    scores.update(score_answers(q["answers"], facts))
    first, follow = ttfts(q["answers"])
    ids = subprocess.run([a.helix, "tokenize", "-f", report, "--ids", "--no-bos"], capture_output=True, text=True,
                         check=True).stdout
    times = {"report_model_tokens": len(ids.split()), "minutes_s": round(t_min, 1), "minutes_cpu_s": round(c_min, 1),
             "key_points_s": round(t_kp, 1), "key_points_cpu_s": round(c_kp, 1), "questions_s": round(t_qa, 1), "questions_cpu_s": round(c_qa, 1),
             "first_question_ttft_s": first, "follow_up_ttft_s": follow,
             "follow_up_cached_tokens": [a["usage"]["cached_tokens"] for a in q["answers"][1:4]],
             "meeting_tokens": m["tokens"], "report_tokens": k["tokens"], "questions": len(facts),
             "load_at_start": open("/proc/loadavg").read().split()[0]}
    if a.prefix_compare:
        few = [x for f in facts[: a.prefix_compare] for x in ("--ask", f["question"])]
        r1, _ = run(base + [report, "--no-history"] + few)
        c1 = CPU["last"]
        r0, _ = run(base + [report, "--no-history", "--no-prefix-cache"] + few)
        c0 = CPU["last"]
        computed = lambda r: [x["usage"]["prompt_tokens"] - x["usage"]["cached_tokens"] for x in r["answers"]]
        # (first TTFT, mean follow-up TTFT), the prompt tokens each question had to compute, CPU s of the run
        times["prefix_compare"] = {"questions": a.prefix_compare,
                                   "with_reuse": {"ttft": ttfts(r1["answers"]), "computed_tokens": computed(r1), "cpu_s": round(c1, 1)},
                                   "without_reuse": {"ttft": ttfts(r0["answers"]), "computed_tokens": computed(r0),
                                                     "cpu_s": round(c0, 1)}}
    print("| metric | score |\n| --- | ---: |")
    for key, v in scores.items():
        print(f"| {key.replace('_', ' ')} | {v:.2f} |")
    print("\n" + ", ".join(f"{key} {v}" for key, v in times.items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"size": a.size, "scores": scores, "times": times,
                       "answers": [{"question": f["question"], "gold": f["answer"], "answer": x["answer"],
                                    "citations": x["citations"],
                                    "cited_hold": cited_hold(x, f)}
                                   for x, f in zip(q["answers"], facts)]}, f, indent=1, ensure_ascii=False)
    if a.svg:
        svg_bars(scores, a.svg, f"helix chatfile, eval size {a.size}")


if __name__ == "__main__":
    main()

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

  HELIX_BIN=build/helix python3 bench/chatfile_eval.py --size small [--questions N] [--json OUT] [--svg OUT]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return json.loads(p.stdout), time.time() - t


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


def score_answers(answers, facts):
    right = cited = good = 0
    for a, f in zip(answers, facts):
        right += f["answer"] in a["answer"]
        for n in a["citations"]:
            cited += 1
            good += f["answer"] in a["passages"][n - 1]["text"]
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
    ap.add_argument("--size", default="small", choices=["tiny", "small", "full"])
    ap.add_argument("--questions", type=int, default=0, help="ask only the first N questions (0: all)")
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", os.path.join(ROOT, "build", "helix")))
    ap.add_argument("--extra", default="", help="more helix chatfile flags, e.g. '--no-adapter --parallel 2'")
    ap.add_argument("--json", help="write the scores and timings here")
    ap.add_argument("--svg", help="write a bar chart of the scores here")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="chatfile-eval-")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_chatfile_eval.py"), work, "--size", a.size],
                   check=True, capture_output=True)
    gold = json.load(open(os.path.join(work, "gold.json"), encoding="utf-8"))
    base = [a.helix, "chatfile", "--json", "--cache", os.path.join(work, "cache")] + a.extra.split()
    meeting = os.path.join(work, gold["meeting"]["file"])
    report = os.path.join(work, gold["report"]["file"])
    facts = gold["report"]["facts"][: a.questions or None]
    m, t_min = run(base + [meeting, "--minutes"])
    k, t_kp = run(base + [report, "--key-points"])
    asks = [x for f in facts for x in ("--ask", f["question"])]
    q, t_qa = run(base + [report, "--no-history"] + asks)
    scores = {}
    scores.update(score_minutes(m["minutes"], gold["meeting"]))
    scores.update(score_key_points(k["key_points"]["key_points"], gold["report"]["facts"]))
    scores.update(score_answers(q["answers"], facts))
    times = {"minutes_s": round(t_min, 1), "key_points_s": round(t_kp, 1), "questions_s": round(t_qa, 1),
             "meeting_tokens": m["tokens"], "report_tokens": k["tokens"], "questions": len(facts)}
    print("| metric | score |\n| --- | ---: |")
    for key, v in scores.items():
        print(f"| {key.replace('_', ' ')} | {v:.2f} |")
    print("\n" + ", ".join(f"{key} {v}" for key, v in times.items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"size": a.size, "scores": scores, "times": times}, f, indent=1)
    if a.svg:
        svg_bars(scores, a.svg, f"helix chatfile, eval size {a.size}")


if __name__ == "__main__":
    main()

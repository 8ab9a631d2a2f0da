#!/usr/bin/env python3
"""Answer faithfulness of `helix ask` (issue 15, "Measured"; a benchmark, not a test).

A held-out set of questions of the retrieval evaluation (tests/python/data/kb_eval/questions.jsonl:
every --every-th question, English and Chinese) is asked with `helix ask --kb ... --json` over the
evaluation corpus (Debian's licences + the committed man pages and Chinese texts), once with the
installed assistant adapter and once with `--no-adapter`. Nothing is judged by a model; each question
knows its document and a string of the passage that answers it (`answer`), so:

  answered          the reply is an answer: not empty, not "the passages do not say", not the prompt echoed
                    (the rows below count answers only: an echoed prompt carries [n] markers that cite nothing)
  cites             the answer cites at least one of the numbered passages (resolved)
  faithful          a cited passage is from the gold document and contains the gold string
                    (the share of ALL questions: the issue's "citations point at the passage with the fact")
  all cited hold it every cited passage holds the gold string (strict)
  citation precision cited passages holding the gold string / all resolved citations
  states the fact   a loose proxy for correctness: the answer names the option (man pages) or has half of
                    the gold string's content words / CJK bigrams
  retrieval ceiling some passage given to the model holds the gold string (same for both conditions)

  HELIX_BIN=build/helix python3 bench/ask_eval.py [--every 6] [--kb-dir DIR] [--out bench/reports/2026-12-03]
"""
import argparse
import json
import os
import pathlib
import re
import resource
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from eval_chart import grouped_bars  # noqa: E402

DATA = ROOT / "tests" / "python" / "data" / "kb_eval"
LICENCES = ["Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GPL-2", "GPL-3", "LGPL-3", "MPL-2.0", "GFDL-1.3"]
REFUSALS = ["do not say", "does not say", "don't say", "no passage", "not mentioned", "没有提到", "没有说明", "段落没有",
            "没有与这个问题相关", "未提及"]
ECHO = ["Answer the question using only", "Cite the passages you use", "Question:", "只根据下面编号的段落", "问题："]
STOP = set("the a an of to and or in on for with by is are be that this which what when how does do any you your "
           "under from as it its not may can shall such other than".split())


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def squash(s):
    return re.sub(r"\s+", "", s)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def build_kb(helix, kb_dir):
    """The corpus of tests/python/test_kb_eval.py, in knowledge base `eval` under kb_dir (kept: reused)."""
    if (kb_dir / "eval" / "kb.sqlite").exists():
        return
    corpus = kb_dir.parent / "corpus"
    if not corpus.exists():
        (corpus / "licences").mkdir(parents=True)
        for n in LICENCES:
            shutil.copy(pathlib.Path("/usr/share/common-licenses") / n, corpus / "licences" / n)
        for sub in ["man", "zh"]:
            shutil.copytree(DATA / "corpus" / sub, corpus / sub)
    log(f"building the knowledge base in {kb_dir} (a few minutes: every chunk is embedded)")
    subprocess.run([helix, "kb", "--kb-dir", kb_dir, "create", "eval"], check=True, capture_output=True)
    subprocess.run([helix, "kb", "--kb-dir", kb_dir, "add", "eval", corpus], check=True)


def has_fact(passage, q):
    return passage["doc"].rsplit("/", 1)[-1] == q["doc"] and squash(q["answer"]) in squash(passage["text"])


def content_share(text, gold):
    """The share of gold's content words (or CJK bigrams) that text has."""
    cjk = re.sub(r"[^\u3400-\u9fff]", "", gold)
    if len(cjk) >= 2:
        grams = {cjk[i:i + 2] for i in range(len(cjk) - 1)}
        return sum(g in text for g in grams) / len(grams)
    words = {w for w in re.findall(r"[a-z0-9]+", gold.lower()) if w not in STOP and (len(w) > 2 or w.isdigit())}
    return len(words & set(re.findall(r"[a-z0-9]+", text.lower()))) / len(words) if words else 0.0


def states_fact(answer, q):
    """A loose proxy: for "which option ...?" the answer names the option (its long form when it has one);
    for "what does --x do?" and other questions it has half of the gold string's content words (options
    left out) or CJK bigrams."""
    gold = q["answer"]
    opts = re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", gold)
    asked = [o for o in opts if re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", q["q"])]
    if q["kind"].startswith("man-option") and opts and not asked:
        o = max(opts, key=len)
        return bool(re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", answer))
    rest = gold
    for o in opts:
        rest = rest.replace(o, " ")
    return content_share(answer, rest) >= 0.5


def classify(out):
    """'answer', 'empty', 'refusal' or 'echo' for one `helix ask --json` output."""
    text = re.sub(r"\[[\d,\s-]+\]", "", out["answer"]).strip()
    if len(text) < 2:
        return "empty"
    if any(e in out["raw_answer"] for e in ECHO) or re.search(r"(^|\n)\[\d+\] \S", out["raw_answer"]):
        return "echo"
    if any(r in text.lower() for r in REFUSALS):
        return "refusal"
    return "answer"


def score(q, out):
    given = out["passages"]
    cited = out["citations"]
    hold = [has_fact(c, q) for c in cited]
    kind = classify(out)
    ok = kind == "answer"  # an echoed prompt carries its [n] markers: they are not citations of an answer
    return {"id": q["id"], "lang": q["lang"], "kind": kind, "answered": ok,
            "cites": ok and bool(cited), "faithful": ok and any(hold), "all_cited_hold": ok and bool(hold) and all(hold),
            "citations": len(cited) if ok else 0, "good_citations": sum(hold) if ok else 0,
            "unresolved": len(out["unresolved_citations"]),
            "states_fact": kind == "answer" and states_fact(out["answer"], q),
            "ceiling": any(has_fact(p, q) for p in given), "passages": len(given)}


def summarize(rows):
    n = len(rows)
    share = lambda k: sum(r[k] for r in rows) / n if n else 0.0
    cites = sum(r["citations"] for r in rows)
    return {"questions": n, "answered": share("answered"), "cites": share("cites"), "faithful": share("faithful"),
            "all_cited_hold": share("all_cited_hold"),
            "citation_precision": sum(r["good_citations"] for r in rows) / cites if cites else 0.0,
            "states_fact": share("states_fact"), "ceiling": share("ceiling"),
            "faithful_when_retrieved": (sum(r["faithful"] for r in rows if r["ceiling"]) /
                                        max(1, sum(r["ceiling"] for r in rows))),
            "kinds": {k: sum(r["kind"] == k for r in rows) for k in ("answer", "refusal", "echo", "empty")}}


def run_condition(helix, kb_dir, qs, extra, name, raw):
    rows, t0, c0 = [], time.time(), children_cpu()
    for i, q in enumerate(qs):
        t = time.time()
        p = subprocess.run([helix, "ask", "--kb", "eval", "--kb-dir", kb_dir, q["q"], "--json", *extra],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"helix ask failed on question {q['id']}: {p.stderr[-2000:]}")
        out = json.loads(p.stdout)
        if (out["adapter"] is None) != ("--no-adapter" in extra):
            sys.exit(f"condition {name}: helix ask ran with adapter {out['adapter']} (install it: helix sft "
                     "recipes/assistant/recipe.toml --install)")
        r = score(q, out)
        r["seconds"] = round(time.time() - t, 1)
        rows.append(r)
        raw.write(json.dumps({"condition": name, "id": q["id"], "q": q["q"], "gold_doc": q["doc"], "gold": q["answer"],
                              "answer": out["raw_answer"], "citations": [c["n"] for c in out["citations"]],
                              "passages": [[p["n"], p["doc"].rsplit("/", 1)[-1], p["section"]] for p in out["passages"]],
                              "score": r}, ensure_ascii=False) + "\n")
        raw.flush()
        done = sum(x["faithful"] for x in rows)
        log(f"[{name}] {i + 1}/{len(qs)} q{q['id']} {r['kind']:7s} faithful {done}/{i + 1}  {r['seconds']:.0f} s")
    s = summarize(rows)
    s["by_lang"] = {lang: summarize([r for r in rows if r["lang"] == lang]) for lang in ("en", "zh")}
    s["wall_s"], s["cpu_s"] = round(time.time() - t0, 1), round(children_cpu() - c0, 1)
    return s


METRICS = [("answered", "answers at all"), ("cites", "cites a passage"), ("faithful", "faithful (a cited passage holds the fact)"),
           ("all_cited_hold", "every cited passage holds it"), ("citation_precision", "citation precision"),
           ("states_fact", "states the fact (proxy)"), ("ceiling", "retrieval ceiling (a given passage holds it)")]


def write_report(res, out, args):
    conds = list(res["conditions"])
    lines = ["| metric | " + " | ".join(conds) + " |", "| --- |" + " ---: |" * len(conds)]
    for k, label in METRICS:
        lines.append(f"| {label} | " + " | ".join(f"{res['conditions'][c][k]:.2f}" for c in conds) + " |")
    for lang in ("en", "zh"):
        lines.append(f"| faithful, {lang} ({res['conditions'][conds[0]]['by_lang'][lang]['questions']} q) | " +
                     " | ".join(f"{res['conditions'][c]['by_lang'][lang]['faithful']:.2f}" for c in conds) + " |")
    lines.append("| replies: answer / refusal / echo / empty | " + " | ".join(
        "{answer} / {refusal} / {echo} / {empty}".format(**res["conditions"][c]["kinds"]) for c in conds) + " |")
    lines.append("| wall s / CPU s (whole condition) | " + " | ".join(
        f"{res['conditions'][c]['wall_s']:.0f} / " + (f"{res['conditions'][c]['cpu_s']:.0f}" if res["conditions"][c]["cpu_s"]
                                                       is not None else "n/a") for c in conds) + " |")
    table = "\n".join(lines)
    (out / "ask_eval.md").write_text(
        f"# helix ask: answer faithfulness ({res['questions']} held-out questions)\n\n"
        f"`HELIX_BIN=build/helix python3 bench/ask_eval.py {' '.join(args)}` at {res['commit']}, {res['date']}; "
        f"flags `{' '.join(res['flags'])}`. Load average at the start: {res['load']}.\n\n{table}\n")
    (out / "ask_eval.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))
    grouped_bars(out / "ask_eval.svg", f"helix ask on {res['questions']} held-out questions", [lbl for _, lbl in METRICS],
                 {c: [res["conditions"][c][k] for k, _ in METRICS] for c in conds})
    return table


def report_from(dirs):
    """Merges the runs in dirs (each: ask_eval.json + ask_eval.answers.jsonl), rescoring each answer's
    "states the fact" from its text, into one result."""
    qs = {q["id"]: q for q in (json.loads(x) for x in (DATA / "questions.jsonl").read_text().splitlines() if x.strip())}
    res = None
    for d in map(pathlib.Path, dirs):
        rows = {}
        for line in (d / "ask_eval.answers.jsonl").read_text().splitlines():
            a = json.loads(line)
            sc = dict(a["score"])
            ok = sc["kind"] == "answer"
            sc["states_fact"] = ok and states_fact(a["answer"], qs[a["id"]])
            for k in ("cites", "faithful", "all_cited_hold"):
                sc[k] = ok and sc[k]
            if not ok:
                sc["citations"] = sc["good_citations"] = 0
            rows.setdefault(a["condition"], []).append(sc)
        # a run stopped before its end has no ask_eval.json: its wall time is the sum of its answers' times
        r = json.loads((d / "ask_eval.json").read_text()) if (d / "ask_eval.json").exists() else {"conditions": {}}
        if "commit" in r and (res is None or "commit" not in res):
            res = dict(r, conditions=res["conditions"] if res else {})
        elif res is None:
            res = {"questions": len(next(iter(rows.values()))), "commit": "?", "date": "?", "load": "?", "flags": [],
                   "conditions": {}}
        for c, sc in rows.items():
            s = summarize(sc)
            s["by_lang"] = {lang: summarize([x for x in sc if x["lang"] == lang]) for lang in ("en", "zh")}
            v = r["conditions"].get(c, {"wall_s": round(sum(x["seconds"] for x in sc), 1), "cpu_s": None})
            s["wall_s"], s["cpu_s"] = v["wall_s"], v["cpu_s"]
            res["conditions"][c] = s
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--every", type=int, default=6, help="ask every N-th question (by id; default 6: 37 questions)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many questions (0: all picked)")
    ap.add_argument("--kb-dir", default="/tmp/helix-ask-eval/kbs", help="where the evaluation base is built (kept)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "reports" / "2026-12-03"))
    ap.add_argument("--flags", default="-n 120", help="helix ask flags for both conditions")
    ap.add_argument("--conditions", default="adapter,no-adapter")
    ap.add_argument("--report-from", nargs="+", metavar="DIR", help="write the report from earlier runs' --out folders "
                    "(e.g. one per condition, run side by side) instead of running")
    a = ap.parse_args()
    if a.report_from:
        out = pathlib.Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        res = report_from(a.report_from)
        for d in a.report_from:
            if pathlib.Path(d).resolve() != out.resolve():
                with open(out / "ask_eval.answers.jsonl", "a" if d != a.report_from[0] else "w", encoding="utf-8") as f:
                    f.write((pathlib.Path(d) / "ask_eval.answers.jsonl").read_text())
        print(write_report(res, out, sys.argv[1:]))
        return
    helix = os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix"))
    qs = [json.loads(x) for x in (DATA / "questions.jsonl").read_text().splitlines() if x.strip()]
    qs = [q for q in qs if q["id"] % a.every == 0][: a.limit or None]
    kb_dir = pathlib.Path(a.kb_dir)
    kb_dir.mkdir(parents=True, exist_ok=True)
    build_kb(helix, kb_dir)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    flags = a.flags.split()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    res = {"questions": len(qs), "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load": " ".join(open("/proc/loadavg").read().split()[:3]), "flags": flags, "conditions": {}}
    with open(out / "ask_eval.answers.jsonl", "w", encoding="utf-8") as raw:
        for c in a.conditions.split(","):
            res["conditions"][c] = run_condition(helix, kb_dir, qs, flags + (["--no-adapter"] if c == "no-adapter" else []),
                                                 c, raw)
    print(write_report(res, out, sys.argv[1:]))


if __name__ == "__main__":
    main()

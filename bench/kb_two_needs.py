#!/usr/bin/env python3
"""Two-need questions over the test documents (tests/docs/data: a PDF, a DOCX, Markdown, text,
Chinese): does retrieval put BOTH passages a question needs into the top k? Compares BM25,
vectors, the hybrid and the knowledge-point path (`helix kb query --points`, optionally
`--rerank`). A small sanity check of the knowledge-point idea, not the retrieval evaluation
(that is the 200-question set).

usage: HELIX_BIN=build/helix python3 bench/kb_two_needs.py
"""
import json
import os
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
H = os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix"))
DATA = ROOT / "tests" / "docs" / "data"
D = tempfile.mkdtemp(prefix="helix-two-needs-")
subprocess.run([H, "kb", "create", "t", "--kb-dir", D], check=True, capture_output=True)
subprocess.run([H, "kb", "add", "t", *(str(DATA / f) for f in ("bicycle.pdf", "astronomy.docx", "tomatoes.md",
                "tea_zh.txt", "coffee.txt")), "--kb-dir", D], check=True, capture_output=True)
# (question, the two (file, text fragment) passages it needs)
Q = [
 ("How often should I lubricate the chain and how long should a telescope cool outside?", [("bicycle.pdf", "three hundred"), ("astronomy.docx", "half an hour")]),
 ("What pressure do road tyres need and how often should tomatoes be watered?", [("bicycle.pdf", "six to eight bar"), ("tomatoes.md", "twice a week")]),
 ("How much coffee per litre for filter coffee and when should disc brake pads be replaced?",
  [("coffee.txt", "sixty grams"), ("bicycle.pdf", "one millimetre")]),
 ("Which telescope should a beginner start with and what causes blossom end rot?", [("astronomy.docx", "Dobsonian"), ("tomatoes.md", "blossom end rot")]),
 ("What magnification shows Saturn's rings and what water temperature extracts coffee best?", [("astronomy.docx", "thirty times"), ("coffee.txt", "ninety-three")]),
 ("How do I find a puncture and how many hours of sun do tomatoes need?", [("bicycle.pdf", "hiss"), ("tomatoes.md", "eight hours")]),
 ("普洱茶产自哪里？铁观音可以冲泡几次？", [("tea_zh.txt", "云南"), ("tea_zh.txt", "七次")]),
 ("What pressure does an espresso machine use and how often should the chain be cleaned?", [("coffee.txt", "nine bars"), ("bicycle.pdf", "three hundred")]),
]
def run(q, extra, k):
    out = subprocess.run([H, "kb", "query", "t", q, "--json", "-k", str(k), "--kb-dir", D, *extra],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)
for k in (2, 3):
    for name, extra in (("bm25", ["--mode", "bm25"]), ("vector", ["--mode", "vector"]), ("hybrid", []),
                        ("points", ["--points"]), ("points+rerank", ["--points", "--rerank"])):
        both = 0; found = 0
        for q, needs in Q:
            hits = run(q, extra, k)
            got = [any(h["doc"].endswith(f) and frag in h["text"] for h in hits) for f, frag in needs]
            found += sum(got); both += all(got)
        print(f"k={k} {name:14s} needs found {found}/{2*len(Q)}  questions with both {both}/{len(Q)}")
import shutil  # noqa: E402
shutil.rmtree(D, ignore_errors=True)

"""The retrieval evaluation (issue 15, "Measured"): 223 question -> passage pairs over real documents
(Debian's licences in /usr/share/common-licenses, English man pages, Chinese man pages, the Chinese
Vim tutor and GnuPG's Chinese help; see make_kb_eval_data.py), run through `helix kb eval` for BM25
alone, vectors alone, the hybrid and the knowledge-point path. Floors sit a little under the measured figures (README,
"Retrieval quality"); the hybrid must beat both retrievers alone on every metric.
"""
import json
import pathlib
import re
import shutil
import time

import pytest

from conftest import run_helix

DATA = pathlib.Path(__file__).resolve().parent / "data" / "kb_eval"
QUESTIONS = DATA / "questions.jsonl"
LICENSES = pathlib.Path("/usr/share/common-licenses")
LICENCES = ["Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GPL-2", "GPL-3", "LGPL-3", "MPL-2.0", "GFDL-1.3"]


def questions():
    return [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]


def build_corpus(dst):
    """The evaluation corpus as a folder: the licences (every Debian machine has them) + the committed files."""
    missing = [n for n in LICENCES if not (LICENSES / n).exists()]
    if missing:
        pytest.skip(f"not a Debian machine: /usr/share/common-licenses lacks {missing}")
    (dst / "licences").mkdir(parents=True)
    for n in LICENCES:
        shutil.copy(LICENSES / n, dst / "licences" / n)
    for sub in ["man", "zh"]:
        shutil.copytree(DATA / "corpus" / sub, dst / sub)
    return dst


@pytest.fixture(scope="module")
def evaluation(helix_bin, tmp_path_factory):
    root = tmp_path_factory.mktemp("kbeval")
    corpus = build_corpus(root / "corpus")
    kb_dir = root / "kbs"
    t0 = time.time()
    run_helix(helix_bin, "kb", "--kb-dir", kb_dir, "create", "eval")
    run_helix(helix_bin, "kb", "--kb-dir", kb_dir, "add", "eval", corpus)
    t1 = time.time()
    r = run_helix(helix_bin, "kb", "--kb-dir", kb_dir, "eval", "eval", QUESTIONS, "--json", "--ann",
                  "--modes", "bm25,vector,hybrid,points")
    print(f"ingest {t1 - t0:.1f} s, evaluation {time.time() - t1:.1f} s")
    return json.loads(r.stdout)


def test_every_answer_is_in_its_document():
    files = {n: LICENSES / n for n in LICENCES}
    for sub in ["man", "zh"]:
        files.update({p.name: p for p in (DATA / "corpus" / sub).iterdir()})
    qs = questions()
    assert len(qs) >= 200 and len({q["id"] for q in qs}) == len(qs)
    assert {q["lang"] for q in qs} == {"en", "zh"} and sum(q["lang"] == "zh" for q in qs) >= 50
    squash = lambda s: re.sub(r"\s+", "", s)
    for q in qs:
        if files[q["doc"]].exists():
            assert squash(q["answer"]) in squash(files[q["doc"]].read_text()), q


def test_hybrid_beats_bm25_and_vectors_alone(evaluation):
    m = evaluation["modes"]
    assert evaluation["questions"] == len(questions())
    floors = {"bm25": (0.78, 0.85, 0.67), "vector": (0.73, 0.82, 0.50), "hybrid": (0.85, 0.92, 0.70)}
    for mode, (r5, r10, mrr) in floors.items():
        got = m[mode]
        assert got["recall_at_5"] >= r5 and got["recall_at_10"] >= r10 and got["mrr"] >= mrr, (mode, got)
    for metric in ["recall_at_5", "recall_at_10", "mrr"]:
        assert m["hybrid"][metric] > m["bm25"][metric], (metric, m)
        assert m["hybrid"][metric] > m["vector"][metric], (metric, m)


def test_knowledge_point_path(evaluation):
    # the rule analyser's points, each retrieved by BM25 and vectors, fused (kb query --points);
    # it also ran every question without failing (a "-#" option once made the analyser loop)
    got = evaluation["modes"]["points"]
    assert got["questions"] == evaluation["questions"]
    assert got["recall_at_5"] >= 0.8 and got["recall_at_10"] >= 0.86 and got["mrr"] >= 0.62, got
    # It fuses as retrieve() does, the English embedding model's lists weighed down for Chinese
    # questions (with full vector weight there: recall@5 0.617, recall@10 0.767; now 0.800, 0.850).
    zh = got["by_lang"]["zh"]
    assert zh["recall_at_5"] >= 0.75 and zh["recall_at_10"] >= 0.82, zh


def test_chinese_questions_are_found(evaluation):
    zh = {mode: v["by_lang"]["zh"] for mode, v in evaluation["modes"].items()}
    # BM25 over CJK bigrams carries Chinese; the English embedding model barely helps there, so the
    # hybrid weighs it down for CJK questions and must stay within reach of BM25 (plain RRF: 0.65 at 5).
    assert zh["bm25"]["recall_at_10"] >= 0.8
    assert zh["hybrid"]["recall_at_5"] >= 0.78 and zh["hybrid"]["recall_at_10"] >= 0.83
    assert evaluation["modes"]["hybrid"]["by_lang"]["en"]["recall_at_10"] >= 0.95


def test_vector_index_recall_against_exact_search(evaluation):
    assert evaluation["ann_recall_at_10"] >= 0.95

"""End-to-end tests of `helix kb` through the real CLI with the real embedding model.

Corpus: tests/docs/data (txt, md, html, pdf made by reportlab, docx made by python-docx, Chinese
text, a damaged PDF and a damaged DOCX) plus Debian's licence texts for the kill/resume test.
Independent references: pdftotext (poppler-utils) and python-docx for extraction, rank-bm25 for
BM25 scores over the same indexed chunk texts.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import run_helix

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "docs" / "data"
LICENSES = pathlib.Path("/usr/share/common-licenses")


def kb(helix_bin, kb_dir, *args, check=True):
    return run_helix(helix_bin, "kb", "--kb-dir", kb_dir, *args, check=check)


def query(helix_bin, kb_dir, name, text, *extra):
    r = kb(helix_bin, kb_dir, "query", name, text, "--json", *extra)
    return json.loads(r.stdout)


def words(s):
    return re.findall(r"\S+", s)


@pytest.fixture(scope="module")
def corpus(helix_bin, tmp_path_factory):
    """A knowledge base 'mixed' over the committed corpus (in a subfolder, to test recursion)."""
    root = tmp_path_factory.mktemp("kb")
    docs = root / "docs" / "nested"
    docs.mkdir(parents=True)
    for f in DATA.iterdir():
        if f.name != "VERSIONS":
            shutil.copy(f, docs / f.name)
    kb_dir = root / "kbs"
    kb(helix_bin, kb_dir, "create", "mixed")
    r = kb(helix_bin, kb_dir, "add", "mixed", root / "docs")
    return kb_dir, root / "docs", r.stderr.decode()


def test_pdf_text_matches_pdftotext(helix_bin):
    got = json.loads(run_helix(helix_bin, "kb", "parse", "--json", DATA / "bicycle.pdf").stdout)[0]
    ref = subprocess.run(["pdftotext", "-enc", "UTF-8", str(DATA / "bicycle.pdf"), "-"], capture_output=True,
                         check=True).stdout.decode()
    assert words(" ".join(b["text"] for b in got["blocks"])) == words(ref)
    pages = {b["text"].split()[0]: b["page"] for b in got["blocks"]}
    assert pages["Chain"] == 2 and pages["Tyres"] == 1
    assert got["title"] == "Bicycle Maintenance" and got["pages"] == 2


def test_docx_text_matches_python_docx(helix_bin):
    import docx
    d = docx.Document(str(DATA / "astronomy.docx"))
    ref = [p.text for p in d.paragraphs if p.text.strip()]
    for t in d.tables:
        ref += [" | ".join(c.text for c in row.cells) for row in t.rows]
    got = json.loads(run_helix(helix_bin, "kb", "parse", "--json", DATA / "astronomy.docx").stdout)[0]
    texts = [b["text"] for b in got["blocks"]]
    assert texts[: len(d.paragraphs)] == [p.text for p in d.paragraphs if p.text.strip()]
    assert texts[-1].splitlines() == ref[-3:]
    kinds = {b["text"]: b["kind"] for b in got["blocks"]}
    assert kinds["Telescopes"] == "heading"
    assert kinds["Let the telescope cool outside for half an hour before observing."] == "list"


def test_add_reports_damaged_files_and_goes_on(corpus):
    kb_dir, docs, log = corpus
    assert "skipped" in log and "broken.pdf: damaged PDF" in log, log
    assert "broken.docx: damaged DOCX" in log, log
    assert "6 added, 0 replaced, 0 unchanged, 2 failed" in log, log


def test_docs_list_query_english_and_chinese(helix_bin, corpus):
    kb_dir, docs, _ = corpus
    listed = json.loads(kb(helix_bin, kb_dir, "docs", "mixed", "--json").stdout)
    assert sorted(pathlib.Path(d["path"]).name for d in listed) == [
        "astronomy.docx", "bicycle.pdf", "bread.html", "coffee.txt", "tea_zh.txt", "tomatoes.md"]
    assert all(d["chunks"] > 0 for d in listed)
    assert b"mixed" in kb(helix_bin, kb_dir, "list").stdout

    hits = query(helix_bin, kb_dir, "mixed", "how often should the chain be lubricated", "-k", "3")
    assert len(hits) == 3
    top = hits[0]
    assert pathlib.Path(top["doc"]).name == "bicycle.pdf"
    assert top["page"] == 2 and "Chain" in top["section"]
    assert "lubricate the chain" in top["text"] and top["score"] > 0
    assert top["bm25_rank"] >= 1 and top["vector_rank"] >= 1
    assert top["char_end"] - top["char_start"] == len(top["text"])

    zh = query(helix_bin, kb_dir, "mixed", "普洱茶产自哪里", "-k", "2")
    assert pathlib.Path(zh[0]["doc"]).name == "tea_zh.txt" and "云南" in zh[0]["text"]
    zh_bm25 = query(helix_bin, kb_dir, "mixed", "铁观音", "--mode", "bm25")
    assert [pathlib.Path(h["doc"]).name for h in zh_bm25] == ["tea_zh.txt"]

    text = kb(helix_bin, kb_dir, "query", "mixed", "sourdough hydration").stdout.decode()
    assert "bread.html" in text and "§ Sourdough Bread > Hydration" in text


def test_readd_unchanged_changed_and_rm(helix_bin, corpus, tmp_path):
    kb_dir, docs, _ = corpus
    r = kb(helix_bin, kb_dir, "add", "mixed", docs / "nested" / "coffee.txt")
    assert "unchanged" in r.stderr.decode()
    f = docs / "nested" / "coffee.txt"
    f.write_text(f.read_text() + "\nCold brew steeps coarse coffee in cold water for eighteen hours.\n")
    r = kb(helix_bin, kb_dir, "add", "mixed", f)
    assert "replaced" in r.stderr.decode()
    assert "eighteen hours" in query(helix_bin, kb_dir, "mixed", "how long does cold brew coffee steep", "-k", "1")[0]["text"]
    kb(helix_bin, kb_dir, "rm", "mixed", "coffee.txt")
    names = [pathlib.Path(d["path"]).name for d in json.loads(kb(helix_bin, kb_dir, "docs", "mixed", "--json").stdout)]
    assert "coffee.txt" not in names
    assert all("coffee" not in pathlib.Path(h["doc"]).name
               for h in query(helix_bin, kb_dir, "mixed", "espresso coffee grams", "-k", "10"))
    r = kb(helix_bin, kb_dir, "rm", "mixed", "nothing.txt", check=False)
    assert r.returncode == 1 and b"no document 'nothing.txt'" in r.stderr
    r = kb(helix_bin, kb_dir, "query", "nokb", "x", check=False)
    assert r.returncode == 1 and b"helix kb create nokb" in r.stderr


def fts_tokens(body):
    # unicode61: runs of letters and digits (underscore and punctuation separate), case-folded.
    return re.findall(r"[^\W_]+", body.lower())


@pytest.mark.parametrize("q", ["chain lubricate kilometres", "flour water hydration", "telescope aperture mirror",
                               "普洱茶", "tomatoes watering soil"])
def test_bm25_matches_rank_bm25(helix_bin, corpus, q):
    from rank_bm25 import BM25Okapi
    kb_dir, _, _ = corpus
    con = sqlite3.connect(kb_dir / "mixed" / "kb.sqlite")
    rows = con.execute("SELECT rowid, body FROM chunks_fts ORDER BY rowid").fetchall()
    con.close()
    ids = [r[0] for r in rows]
    bm = BM25Okapi([fts_tokens(r[1]) for r in rows], k1=1.2, b=0.75)
    # the query's terms as helix indexes them (CJK bigrams)
    qterms = fts_tokens(re.sub(r"([\u4e00-\u9fff]+)", lambda m: " " + " ".join(
        m.group(1)[i:i + 2] for i in range(max(1, len(m.group(1)) - 1))) + " ", q))
    ref = sorted(zip(bm.get_scores(qterms), ids), key=lambda t: (-t[0], t[1]))
    ref = [(s, i) for s, i in ref if s > 0][:5]
    got = query(helix_bin, kb_dir, "mixed", q, "--mode", "bm25", "-k", "5")
    assert [h["chunk_id"] for h in got] == [i for _, i in ref]
    for h, (s, _) in zip(got, ref):
        assert h["score"] == pytest.approx(s, rel=1e-6)


def integrity(kb_dir, name):
    con = sqlite3.connect(kb_dir / name / "kb.sqlite")
    ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    n = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    nfts = con.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
    orphans = con.execute("SELECT COUNT(*) FROM chunks WHERE doc_id NOT IN (SELECT id FROM docs)").fetchone()[0]
    con.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    con.close()
    return ok, n, nfts, orphans


def test_kill_mid_ingest_then_resume(helix_bin, tmp_path):
    src = tmp_path / "licenses"
    src.mkdir()
    for name in ["Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GPL-1", "MPL-2.0"]:
        shutil.copy(LICENSES / name, src / (name + ".txt"))
    kb_dir = tmp_path / "kbs"
    kb(helix_bin, kb_dir, "create", "clean")
    kb(helix_bin, kb_dir, "add", "clean", src)
    clean = integrity(kb_dir, "clean")
    assert clean[0] == "ok" and clean[1] == clean[2] > 50

    kb(helix_bin, kb_dir, "create", "killed")
    p = subprocess.Popen([helix_bin, "kb", "--kb-dir", kb_dir, "add", "killed", src], stderr=subprocess.PIPE)
    seen = b""
    while b"[2/6]" not in seen:  # the second file is committed; the third is being embedded
        line = p.stderr.readline()
        assert line, f"ingest ended before it could be killed: {seen!r}"
        seen += line
    p.send_signal(signal.SIGKILL)
    p.wait()
    ok, n, nfts, orphans = integrity(kb_dir, "killed")
    assert ok == "ok" and n == nfts and orphans == 0 and 0 < n < clean[1]
    r = kb(helix_bin, kb_dir, "add", "killed", src)
    log = r.stderr.decode()
    assert log.count("unchanged") >= 2 and "failed" in log
    resumed = integrity(kb_dir, "killed")
    assert resumed[:3] == clean[:3] and resumed[3] == 0
    hits = query(helix_bin, kb_dir, "killed", "patent licence termination", "--mode", "vector", "-k", "10")
    assert len(hits) == 10
    names = {pathlib.Path(d["path"]).name for d in json.loads(kb(helix_bin, kb_dir, "docs", "killed", "--json").stdout)}
    assert len(names) == 6


def test_folder_takes_text_files_without_a_type_extension(helix_bin, tmp_path):
    src = tmp_path / "src"
    (src / ".hidden").mkdir(parents=True)
    (src / "NOTES").write_text("Helix reads plain notes without an extension.\n")
    (src / "LICENSE-2.0").write_text("Permission is granted to copy this licence text.\n")
    (src / "blob").write_bytes(b"\x00\x01binary")
    (src / "table.xlsx").write_bytes(b"PK\x03\x04")
    (src / ".hidden" / "secret.md").write_text("# not indexed\n")
    kb_dir = tmp_path / "kbs"
    kb(helix_bin, kb_dir, "create", "t")
    log = kb(helix_bin, kb_dir, "add", "t", src).stderr.decode()
    assert "2 added, 0 replaced, 0 unchanged, 0 failed" in log, log
    names = sorted(pathlib.Path(d["path"]).name for d in json.loads(kb(helix_bin, kb_dir, "docs", "t", "--json").stdout))
    assert names == ["LICENSE-2.0", "NOTES"]
    r = kb(helix_bin, kb_dir, "add", "t", src / "table.xlsx")  # named on its own: reported, not silently dropped
    assert b"unsupported file type '.xlsx'" in r.stderr and b"1 failed" in r.stderr

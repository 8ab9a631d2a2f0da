"""Knowledge-base benchmark (issue 15, "Measured"; not a test):

1. ingest: `helix kb add` of Debian documents (licences + the evaluation's man pages and Chinese
   texts), timed: documents/s, chunks/s, embeddings/s;
2. a 100,000-chunk base: the ingested English chunks (text and their real embeddings) plus synthetic
   chunks made from them — each a mix of the sentences of two real chunks, its embedding the
   normalized mean of theirs plus a little noise — written straight into the base's SQLite tables
   (the embedding model runs at ~10 chunks/s per core here: embedding 100k chunks would take hours);
   then the vector index is built by opening the base, and `helix kb eval` measures query latency
   p50/p99 per mode, quality with 100k distractors, and the vector index's recall@10 against exact
   search;
3. the peer: rank-bm25 (BM25Okapi) over the same chunk texts, indexed and queried in this process
   (the sentence-transformers half of the peer is not installed on this machine: see the README).

4. with --ef-search LIST: the vector index's recall@10 against exact search and the vector mode's
   latency at each ef_search on the big base (the index's candidate list per search).

Ratios are measured in the same run. Writes bench/results/kb_bench.{json,md,svg}.

    HELIX_BIN=build/helix python3 bench/kb_bench.py [--chunks 100000] [--out bench/results]
        [--base DIR]        reuse an ingested base (a folder with kb.sqlite of the same corpus) instead
                            of ingesting again (ingest is then not measured)
        [--keep DIR]        keep the big base there; [--big DIR]: reuse a big base kept so
        [--ef-search 50,100,200,400]
"""
import argparse
import json
import os
import pathlib
import random
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "python" / "data" / "kb_eval"
LICENCES = ["Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GPL-2", "GPL-3", "LGPL-3", "MPL-2.0", "GFDL-1.3"]


def helix(*args, **kw):
    return subprocess.run([os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix")), *map(str, args)],
                          capture_output=True, check=True, **kw)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build_corpus(dst):
    (dst / "licences").mkdir(parents=True)
    for n in LICENCES:
        shutil.copy(pathlib.Path("/usr/share/common-licenses") / n, dst / "licences" / n)
    for sub in ["man", "zh"]:
        shutil.copytree(DATA / "corpus" / sub, dst / sub)


def ingest(kb_dir, corpus):
    helix("kb", "--kb-dir", kb_dir, "create", "big")
    t0 = time.perf_counter()
    r = helix("kb", "--kb-dir", kb_dir, "add", "big", corpus)
    secs = time.perf_counter() - t0
    summary = r.stderr.decode().strip().splitlines()[-1]
    con = sqlite3.connect(kb_dir / "big" / "kb.sqlite")
    docs, pages = con.execute("SELECT COUNT(*), SUM(MAX(pages, 1)) FROM docs").fetchone()
    chunks = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    con.close()
    log(f"ingest: {summary} ({secs:.1f} s)")
    return {"seconds": secs, "docs": docs, "pages": pages, "chunks": chunks, "docs_per_s": docs / secs,
            "pages_per_s": pages / secs, "chunks_per_s": chunks / secs, "embeddings_per_s": chunks / secs,
            "summary": summary}


def synthesize(kb_dir, target, seed=1):
    """Fills the base up to `target` chunks with mixes of its English chunks (see the file comment)."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    con = sqlite3.connect(kb_dir / "big" / "kb.sqlite")
    rows = con.execute("SELECT c.text, c.embedding FROM chunks c JOIN docs d ON d.id = c.doc_id "
                       "WHERE d.path NOT LIKE '%/zh/%'").fetchall()
    texts = [r[0] for r in rows]
    embs = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
    sentences = [re.split(r"(?<=[.;:])\s+", t) for t in texts]
    have = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    per_doc, n, t0 = 100, 0, time.perf_counter()
    con.execute("BEGIN")
    while have + n < target:
        path = f"/synthetic/mix{n // per_doc:05d}.txt"
        cur = con.execute("INSERT INTO docs(path, title, format, sha256, bytes, pages, added) VALUES (?,?,?,?,?,?,?)",
                          (path, "synthetic", "text", f"{n:064x}", 0, 0, "2026-12-03T00:00:00Z"))
        doc_id = cur.lastrowid
        for i in range(min(per_doc, target - have - n)):
            a, b = rng.randrange(len(texts)), rng.randrange(len(texts))
            sa, sb = sentences[a], sentences[b]
            text = " ".join(sa[: max(1, len(sa) // 2)] + sb[len(sb) // 2:])
            v = embs[a] + embs[b] + nrng.normal(0, 0.02, embs.shape[1]).astype(np.float32)
            v /= np.linalg.norm(v)
            cur = con.execute("INSERT INTO chunks(doc_id, ord, section, page, char_begin, char_end, tokens, text, "
                              "embedding) VALUES (?,?,?,?,?,?,?,?,?)",
                              (doc_id, i, "", 0, 0, len(text), 0, text, v.astype(np.float32).tobytes()))
            con.execute("INSERT INTO chunks_fts(rowid, body) VALUES (?, ?)", (cur.lastrowid, text))
            n += 1
        if (n // per_doc) % 50 == 0:
            rate = n / (time.perf_counter() - t0)
            print(f"\rsynthesizing {have + n}/{target} chunks  {rate:.0f}/s  ETA {(target - have - n) / rate:.0f} s",
                  end="", file=sys.stderr, flush=True)
    con.commit()
    total = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    con.close()
    print(file=sys.stderr)
    return total


def evaluate(kb_dir, modes, *extra):
    r = helix("kb", "--kb-dir", kb_dir, "eval", "big", DATA / "questions.jsonl", "--json", "--ann", "--modes", modes,
              *extra)
    return json.loads(r.stdout)


def ef_sweep(kb_dir, efs):
    """recall@10 against exact search and vector-mode latency at each ef_search."""
    rows = []
    for ef in efs:
        r = evaluate(kb_dir, "vector", "--ef-search", ef)
        v = r["modes"]["vector"]
        rows.append({"ef_search": ef, "ann_recall_at_10": r["ann_recall_at_10"], "latency_ms_p50": v["latency_ms_p50"],
                     "latency_ms_p99": v["latency_ms_p99"], "recall_at_10": v["recall_at_10"]})
        log(f"ef_search {ef}: ANN recall@10 {r['ann_recall_at_10']:.4f}, vector p50 {v['latency_ms_p50']:.1f} ms")
    return rows


def peer_chunks(db):
    """(document path, FTS body: the text with CJK as bigrams, text) of a base's real chunks, by id."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT d.path, f.body, c.text FROM chunks c JOIN docs d ON d.id = c.doc_id "
                       "JOIN chunks_fts f ON f.rowid = c.id WHERE d.path NOT LIKE '/synthetic/%' ORDER BY c.id").fetchall()
    con.close()
    return rows


def tok(s):
    """rank-bm25's tokens: lower-cased runs of letters and digits."""
    return re.findall(r"[^\W_]+", s.lower())


def bigrams(q):
    """A question's Han runs as character bigrams, as Helix's FTS index holds them."""
    return re.sub(r"([\u4e00-\u9fff]+)", lambda m: " " + " ".join(
        m.group(1)[i:i + 2] for i in range(max(1, len(m.group(1)) - 1))) + " ", q)


def peer_bm25(kb_dir):
    """rank-bm25 over the same chunk texts (the English ones and the Chinese as CJK bigrams, as Helix indexes
    them): index time, per-query latency and recall@10 on the same questions."""
    from rank_bm25 import BM25Okapi
    rows = peer_chunks(kb_dir / "big" / "kb.sqlite")
    t0 = time.perf_counter()
    bm = BM25Okapi([tok(r[1]) for r in rows], k1=1.2, b=0.75)
    index_s = time.perf_counter() - t0
    qs = [json.loads(l) for l in (DATA / "questions.jsonl").read_text().splitlines() if l.strip()]
    squash = lambda s: re.sub(r"\s+", "", s)
    lat, found5, found10, rr = [], 0, 0, 0.0
    for q in qs:
        t = time.perf_counter()
        scores = bm.get_scores(tok(bigrams(q["q"])))
        top = np.argsort(-scores)[:10]
        lat.append((time.perf_counter() - t) * 1000)
        rank = next((i + 1 for i, j in enumerate(top) if scores[j] > 0 and rows[j][0].endswith("/" + q["doc"])
                     and squash(q["answer"]) in squash(rows[j][2])), 0)
        found5 += 0 < rank <= 5
        found10 += rank > 0
        rr += 1 / rank if rank else 0
    n = len(qs)
    return {"chunks": len(rows), "index_seconds": index_s, "recall_at_5": found5 / n, "recall_at_10": found10 / n,
            "mrr": rr / n, "latency_ms_p50": float(np.percentile(lat, 50)),
            "latency_ms_p99": float(np.percentile(lat, 99))}


def write_report(res, out):
    out.mkdir(parents=True, exist_ok=True)
    (out / "kb_bench.json").write_text(json.dumps(res, indent=2))
    ing, small, big, peer = res.get("ingest"), res["small"], res["big"], res["peer_bm25"]
    lines = [f"Ingest of {ing['docs']} Debian documents ({ing['chunks']} chunks): {ing['seconds']:.1f} s, "
             f"{ing['docs_per_s']:.2f} documents/s, {ing['chunks_per_s']:.2f} chunks/s = embeddings/s" if ing else
             "Ingest not measured in this run (--base: an ingested base was reused).",
             "", f"| mode | chunks | recall@5 | recall@10 | MRR | p50 ms | p99 ms |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in [("small", small), ("big", big)]:
        for mode, m in r["modes"].items():
            lines.append(f"| {mode} | {r['chunks']:,} | {m['recall_at_5']:.3f} | {m['recall_at_10']:.3f} | "
                         f"{m['mrr']:.3f} | {m['latency_ms_p50']:.1f} | {m['latency_ms_p99']:.1f} |")
    lines.append(f"| peer rank-bm25 | {peer['chunks']:,} | {peer['recall_at_5']:.3f} | {peer['recall_at_10']:.3f} | "
                 f"{peer['mrr']:.3f} | {peer['latency_ms_p50']:.1f} | {peer['latency_ms_p99']:.1f} |")
    lines += ["", f"Vector index recall@10 against exact search: {small['ann_recall_at_10']:.4f} at "
              f"{small['chunks']:,} chunks, {big['ann_recall_at_10']:.4f} at {big['chunks']:,} "
              f"(index build {res['index_build_seconds']:.0f} s). rank-bm25 indexing {peer['index_seconds']:.2f} s."]
    if res.get("ef_sweep"):
        lines += ["", f"Vector index at {big['chunks']:,} chunks, by ef_search (the index's candidate list per search):", "",
                  "| ef_search | recall@10 vs exact | vector recall@10 (eval) | vector p50 ms | vector p99 ms |",
                  "| ---: | ---: | ---: | ---: | ---: |"]
        for r in res["ef_sweep"]:
            lines.append(f"| {r['ef_search']} | {r['ann_recall_at_10']:.4f} | {r['recall_at_10']:.3f} | "
                         f"{r['latency_ms_p50']:.1f} | {r['latency_ms_p99']:.1f} |")
    (out / "kb_bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    modes = list(big["modes"])
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(modes))
    for k, (r, label) in enumerate([(small, f"{small['chunks']:,} chunks"), (big, f"{big['chunks']:,} chunks")]):
        ax.bar(x + (k - 0.5) * 0.38, [r["modes"][m]["latency_ms_p50"] for m in modes], 0.36, label=f"p50, {label}")
        ax.scatter(x + (k - 0.5) * 0.38, [r["modes"][m]["latency_ms_p99"] for m in modes], marker="_", s=300,
                   color="black", zorder=3, label="p99" if k == 0 else None)
    ax.set_xticks(x, modes)
    ax.set_ylabel("query latency (ms)")
    ax.set_title("helix kb eval: 223 questions, latency per query")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "kb_bench.svg")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--modes", default="bm25,vector,hybrid,points")
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "results")
    ap.add_argument("--base", type=pathlib.Path, help="an ingested base of the same corpus to reuse")
    ap.add_argument("--keep", type=pathlib.Path, help="keep the big base in this folder")
    ap.add_argument("--big", type=pathlib.Path, help="reuse a big base kept with --keep (skips ingest and synthesis)")
    ap.add_argument("--ef-search", default="", help="comma-separated ef_search values to sweep on the big base")
    a = ap.parse_args()
    efs = [int(x) for x in a.ef_search.split(",") if x]
    with tempfile.TemporaryDirectory(prefix="kb_bench_") as tmp:
        tmp = pathlib.Path(tmp)
        kbs = tmp / "kbs"
        res = {}
        if a.big:
            shutil.copytree(a.big, kbs)
            prev = json.loads((a.big / "kb_bench_small.json").read_text())
            res.update(prev)
        else:
            build_corpus(tmp / "corpus")
            if a.base:
                (kbs / "big").mkdir(parents=True)
                shutil.copy(a.base / "kb.sqlite", kbs / "big" / "kb.sqlite")
            else:
                res["ingest"] = ingest(kbs, tmp / "corpus")
            log("evaluating the real base ...")
            res["small"] = evaluate(kbs, a.modes)
            res["peer_bm25"] = peer_bm25(kbs)
            res["synthesized_to"] = synthesize(kbs, a.chunks)
            log("building the vector index ...")
            t0 = time.perf_counter()
            helix("kb", "--kb-dir", kbs, "list")
            res["index_build_seconds"] = time.perf_counter() - t0
            log(f"index built in {res['index_build_seconds']:.0f} s")
            if a.keep:
                shutil.copytree(kbs, a.keep, dirs_exist_ok=True)
                (a.keep / "kb_bench_small.json").write_text(json.dumps(res))
        log("evaluating the big base ...")
        res["big"] = evaluate(kbs, a.modes)
        if efs:
            res["ef_sweep"] = ef_sweep(kbs, efs)
    write_report(res, a.out)


if __name__ == "__main__":
    main()

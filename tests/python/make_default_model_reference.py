#!/usr/bin/env python3
"""Computes llama.cpp's outputs for test_default_model.py on the installed default model and
stores them in data/default_model_reference.json (token ids, per-position argmax, greedy
continuations with their text, perplexity), with the llama-cpp-python version and the model's
SHA-256. Rerun after changing the prompts, the corpus or the default model:

  python3 tests/python/make_default_model_reference.py [MODEL.gguf]
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_default_model as t  # noqa: E402


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HELIX_MODEL") or os.path.join(
        os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")), "helix", "models", "default.gguf")
    out = t.live_reference(model)
    out["prompts"] = t.PROMPTS
    out["corpus_sha256"] = hashlib.sha256(t.corpus_text().encode()).hexdigest()
    t.STORED.write_text(json.dumps(out, ensure_ascii=False) + "\n")
    print(f"wrote {t.STORED}: llama-cpp-python {out['llama_cpp_python']}, perplexity {out['ppl']:.4f}")


if __name__ == "__main__":
    main()

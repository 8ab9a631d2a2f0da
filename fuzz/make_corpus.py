#!/usr/bin/env python3
"""Writes the small seed files under fuzz/corpus/ for the GGUF and safetensors fuzzers, using
gguf-py and the safetensors package (independent writers). Run from anywhere; keep seeds tiny."""
import pathlib

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType, GGUFWriter
from safetensors.numpy import save_file

HERE = pathlib.Path(__file__).resolve().parent


def gguf_seed(path, alignment=None, tensors=True, kv=True):
    w = GGUFWriter(str(path), "llama")
    if kv:
        w.add_uint32("llama.block_count", 1)
        w.add_int8("t.i8", -3)
        w.add_uint16("t.u16", 7)
        w.add_int16("t.i16", -7)
        w.add_int64("t.i64", -1)
        w.add_uint64("t.u64", 1)
        w.add_float32("t.f32", 1.5)
        w.add_float64("t.f64", 2.5)
        w.add_bool("t.b", True)
        w.add_string("t.s", "seed")
        w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a"])
        w.add_array("tokenizer.ggml.scores", [0.0, -1.0, 2.0])
        w.add_array("t.nested", [[1, 2], [3]])
        w.add_key_value("t.u8s", [1, 2], GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT8)
    if alignment:
        w.add_custom_alignment(alignment)
    if tensors:
        w.add_tensor("f32", np.arange(8, dtype=np.float32).reshape(2, 4))
        w.add_tensor("f16", np.ones(4, dtype=np.float16))
        w.add_tensor("q4_0", np.zeros((1, 18), dtype=np.uint8), raw_dtype=Q.Q4_0)
        w.add_tensor("q4_k", np.zeros((1, 144), dtype=np.uint8), raw_dtype=Q.Q4_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    g = HERE / "corpus" / "gguf"
    g.mkdir(parents=True, exist_ok=True)
    gguf_seed(g / "full.gguf")
    gguf_seed(g / "align8.gguf", alignment=8)
    gguf_seed(g / "kv_only.gguf", tensors=False)
    gguf_seed(g / "tensors_only.gguf", kv=False)
    s = HERE / "corpus" / "safetensors"
    s.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2, dtype=np.float16),
               "i": np.array([1, 2], dtype=np.int64), "m": np.array([1], dtype=np.uint8)},
              str(s / "small.safetensors"), metadata={"format": "pt"})
    save_file({"x": np.zeros((1, 1, 1, 2), dtype=np.float32)}, str(s / "rank4.safetensors"))
    total = sum(p.stat().st_size for p in (HERE / "corpus").rglob("*") if p.is_file())
    print(f"wrote seeds, {total} bytes in all")


if __name__ == "__main__":
    main()

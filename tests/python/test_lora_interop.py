"""LoRA adapters against llama.cpp (PyPI llama-cpp-python, `Llama(lora_path=..., lora_scale=...)`):
  1. an adapter written by gguf-py in llama.cpp's layout (what convert_lora_to_gguf.py writes:
     general.type = adapter, adapter.type = lora, adapter.lora.alpha, <w>.lora_a / <w>.lora_b),
     with F32, F16 and Q8_0 factors, applied by both to tiny models of each architecture on F32,
     Q8_0 and Q4_K bases, including the token embedding and the output head;
  2. an adapter written by Helix (`helix lora random`) loaded by llama.cpp, on a tiny model and on
     the default model (Gemma 3 270M Q4_K_M, rank 16 on the seven projections): top-1 agreement and
     max |diff| as tests/python/test_default_model.py measures them;
  3. `helix lora merge`: the merged model's logits against base + adapter, with the types kept and
     as F16;
  4. helpful errors for a model given as an adapter and an adapter for another architecture.

Tolerances (max |helix - ref| / max |ref| over a prompt's logits) are those of
test_model_reference.py against llama.cpp: 1e-2 for F32 bases, 3e-2 Q8_0, 6e-2 Q4_K. Every check
also asserts that the adapter moves the logits by far more than the tolerance, so an adapter that
is silently ignored fails.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import run_helix  # noqa: E402

TOL = {"F32": 1e-2, "Q8_0": 3e-2, "Q4_K": 6e-2}
PROMPT = [1, 5, 9, 33, 200, 201, 202, 203, 319, 4, 250, 251, 7, 8, 9]


def helix_logits(helix_bin, model, tokens, out, *lora):
    args = ["logits", "-m", model, "--tokens", ",".join(map(str, tokens)), "--out", out]
    for spec in lora:
        args += ["--lora", spec]
    run_helix(helix_bin, *args)
    flat = np.fromfile(out, dtype=np.float32)
    return flat.reshape(len(tokens), -1)


LLAMA_CODE = r"""
import sys, json, numpy as np, llama_cpp
path, lora, scale, toks, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
kw = dict(lora_path=lora, lora_scale=scale) if lora else {}
llm = llama_cpp.Llama(model_path=path, n_ctx=256, n_batch=256, n_threads=2, logits_all=True,
                      verbose=False, seed=0, **kw)
llm.eval(toks)
np.asarray(llm.scores[:len(toks)], dtype=np.float32).tofile(out)
"""


def llama_cpp_logits(model, tokens, out, lora=None, scale=1.0):
    r = subprocess.run([sys.executable, "-c", LLAMA_CODE, model, lora or "", str(scale), json.dumps(tokens),
                        str(out)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"llama.cpp failed: {r.stderr[-2000:]}"
    return np.fromfile(out, dtype=np.float32).reshape(len(tokens), -1)


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def write_gguf_py_adapter(base_path, out_path, arch, targets, rank, alpha, factor_type, seed):
    """An adapter in llama.cpp's layout written by gguf-py, as convert_lora_to_gguf.py writes one."""
    import gguf
    reader = gguf.GGUFReader(base_path)
    shapes = {t.name: [int(x) for x in t.shape] for t in reader.tensors}  # ne order
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(out_path, arch)
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    qtype = {"F32": gguf.GGMLQuantizationType.F32, "F16": gguf.GGMLQuantizationType.F16,
             "Q8_0": gguf.GGMLQuantizationType.Q8_0}[factor_type]
    n = 0
    for name, ne in shapes.items():
        if len(ne) != 2 or not any(name == t + ".weight" or name.endswith("." + t + ".weight") for t in targets):
            continue
        n_in, n_out = ne
        a = rng.normal(0, 0.15, size=(rank, n_in)).astype(np.float32)   # numpy [rank, n_in] = ne {n_in, rank}
        b = rng.normal(0, 0.15, size=(n_out, rank)).astype(np.float32)  # ne {rank, n_out}
        if name == "token_embd.weight":  # llama.cpp keeps the embedding's A as ne {rank, n_vocab}
            a, b = rng.normal(0, 0.15, size=(n_out, rank)).astype(np.float32), \
                rng.normal(0, 0.15, size=(n_in, rank)).astype(np.float32)
        for suffix, m in (("lora_a", a), ("lora_b", b)):
            if factor_type == "F32":
                w.add_tensor(f"{name}.{suffix}", m)
            elif factor_type == "F16":
                w.add_tensor(f"{name}.{suffix}", m.astype(np.float16))
            else:
                q = gguf.quants.quantize(m, qtype)
                w.add_tensor(f"{name}.{suffix}", q, raw_shape=q.shape, raw_dtype=qtype)
        n += 1
    assert n > 0
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


SEVEN = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
CASES = [  # arch, base type, factor type, extra targets (untied models: output head and embedding)
    ("llama", "F32", "F32", ["output", "token_embd"]),
    ("llama", "Q4_K", "F16", ["output", "token_embd"]),
    ("qwen2", "Q8_0", "Q8_0", []),
    ("gemma3", "F32", "F16", []),
    ("gemma3", "Q4_K", "F32", []),
    ("ernie4_5", "Q8_0", "F32", []),
]


@pytest.mark.parametrize("arch,wtype,ftype,extra", CASES)
def test_gguf_py_adapter_matches_llama_cpp(helix_bin, tmp_path, arch, wtype, ftype, extra):
    base = str(tmp_path / f"{arch}.gguf")
    run_helix(helix_bin, "tiny-model", arch, base, "--type", wtype, "--seed", "7",
              *(["--tied"] if arch in ("gemma3", "ernie4_5") else []))
    lora = str(tmp_path / "adapter.gguf")
    rank = 32 if ftype == "Q8_0" else 4  # Q8_0 rows are blocks of 32 (B's rows hold `rank` values)
    write_gguf_py_adapter(base, lora, arch, SEVEN + extra, rank=rank, alpha=8, factor_type=ftype, seed=3)
    scale = 0.7
    got = helix_logits(helix_bin, base, PROMPT, tmp_path / "h.f32", f"{lora}:{scale}")
    ref = llama_cpp_logits(base, PROMPT, tmp_path / "l.f32", lora, scale)
    plain = llama_cpp_logits(base, PROMPT, tmp_path / "p.f32")
    tol = TOL[wtype]
    e = rel_err(got, ref)
    assert e < tol, f"{arch} {wtype} base, {ftype} factors: relative error vs llama.cpp {e:.2e} >= {tol}"
    assert rel_err(plain, ref) > 10 * tol, "the adapter barely changes llama.cpp's logits: test too weak"
    # Scales add: the adapter twice at half scale is the adapter once (up to rounding, which
    # quantized bases amplify: a last-bit change of an activation can flip its 8-bit quantization).
    twice = helix_logits(helix_bin, base, PROMPT, tmp_path / "h2.f32", f"{lora}:{scale / 2}", f"{lora}:{scale / 2}")
    assert rel_err(twice, got) < (1e-4 if wtype == "F32" else tol / 2)


def test_helix_adapter_loads_in_llama_cpp(helix_bin, tmp_path):
    base = str(tmp_path / "llama.gguf")
    run_helix(helix_bin, "tiny-model", "llama", base, "--type", "Q8_0", "--seed", "7")
    lora = str(tmp_path / "helix_adapter.gguf")
    run_helix(helix_bin, "lora", "random", base, lora, "--rank", "6", "--alpha", "3", "--std", "0.15",
              "--seed", "5", "--targets", ",".join(SEVEN + ["output", "token_embd"]))
    got = helix_logits(helix_bin, base, PROMPT, tmp_path / "h.f32", lora)
    ref = llama_cpp_logits(base, PROMPT, tmp_path / "l.f32", lora, 1.0)
    plain = llama_cpp_logits(base, PROMPT, tmp_path / "p.f32")
    assert rel_err(got, ref) < TOL["Q8_0"], rel_err(got, ref)
    assert rel_err(plain, ref) > 10 * TOL["Q8_0"]


def test_merge_equals_base_plus_adapter(helix_bin, tmp_path):
    base = str(tmp_path / "qwen2.gguf")
    run_helix(helix_bin, "tiny-model", "qwen2", base, "--type", "F32", "--seed", "7")
    lora = str(tmp_path / "a.gguf")
    run_helix(helix_bin, "lora", "random", base, lora, "--rank", "4", "--std", "0.15", "--seed", "9")
    want = helix_logits(helix_bin, base, PROMPT, tmp_path / "w.f32", f"{lora}:0.5")
    plain = helix_logits(helix_bin, base, PROMPT, tmp_path / "p.f32")
    merged = str(tmp_path / "merged.gguf")
    run_helix(helix_bin, "lora", "merge", base, lora, merged, "--scale", "0.5")
    got = helix_logits(helix_bin, merged, PROMPT, tmp_path / "m.f32")
    assert rel_err(got, want) < 1e-4, rel_err(got, want)
    assert rel_err(plain, want) > 0.1
    # The merged file is an ordinary model to llama.cpp too.
    ref = llama_cpp_logits(merged, PROMPT, tmp_path / "l.f32")
    assert rel_err(got, ref) < TOL["F32"]
    merged16 = str(tmp_path / "merged16.gguf")
    run_helix(helix_bin, "lora", "merge", base, lora, merged16, "--scale", "0.5", "--type", "F16")
    got16 = helix_logits(helix_bin, merged16, PROMPT, tmp_path / "m16.f32")
    assert rel_err(got16, want) < 4e-3


def test_errors_are_clear(helix_bin, tmp_path):
    base = str(tmp_path / "llama.gguf")
    run_helix(helix_bin, "tiny-model", "llama", base, "--seed", "7")
    r = run_helix(helix_bin, "logits", "-m", base, "--tokens", "1,2", "--out", tmp_path / "x", "--lora", base,
                  check=False)
    assert r.returncode != 0 and b"is not a LoRA adapter" in r.stderr, r.stderr
    other = str(tmp_path / "qwen2.gguf")
    run_helix(helix_bin, "tiny-model", "qwen2", other, "--seed", "7")
    lora = str(tmp_path / "q.gguf")
    run_helix(helix_bin, "lora", "random", other, lora)
    r = run_helix(helix_bin, "logits", "-m", base, "--tokens", "1,2", "--out", tmp_path / "x", "--lora", lora,
                  check=False)
    assert r.returncode != 0 and b"is for a qwen2 model" in r.stderr, r.stderr
    r = run_helix(helix_bin, "lora", "merge", base, lora, tmp_path / "m.gguf", check=False)
    assert r.returncode != 0 and b"is for a qwen2 model" in r.stderr, r.stderr
    r = run_helix(helix_bin, "run", "-m", other, "-p", "hi", "-n", "1", "--lora", f"x={lora}", check=False)
    assert r.returncode != 0 and b"named adapters (NAME=FILE) are for helix serve" in r.stderr, r.stderr


PROMPTS_DEFAULT = ["The capital of France is", "def fibonacci(n):\n    ", "To make a cup of tea, first",
                   "The French Revolution began in"]


def test_default_model_with_helix_adapter(helix_bin, default_model, tmp_path):
    """Rank 16 on the seven projections of Gemma 3 270M Q4_K_M: Helix and llama.cpp agree on the
    next token wherever llama.cpp's top-two margin is decided (>= 0.5, as in test_default_model.py),
    and the adapter changes the logits by much more than the engines differ."""
    import llama_cpp
    lora = str(tmp_path / "r16.gguf")
    run_helix(helix_bin, "lora", "random", default_model, lora, "--rank", "16", "--std", "0.02", "--seed", "1")
    llm = llama_cpp.Llama(model_path=default_model, verbose=False, n_ctx=256)
    agree = decided = total = 0
    max_diff = max_change = 0.0
    for i, text in enumerate(PROMPTS_DEFAULT):
        toks = llm.tokenize(text.encode(), add_bos=True, special=True)
        got = helix_logits(helix_bin, default_model, toks, tmp_path / f"h{i}.f32", lora)
        ref = llama_cpp_logits(default_model, toks, tmp_path / f"l{i}.f32", lora, 1.0)
        plain = llama_cpp_logits(default_model, toks, tmp_path / f"p{i}.f32")
        max_diff = max(max_diff, float(np.max(np.abs(got - ref))))
        max_change = max(max_change, float(np.max(np.abs(plain - ref))))
        for t in range(len(toks)):
            top = np.argsort(-ref[t])[:2]
            total += 1
            if ref[t, top[0]] - ref[t, top[1]] >= 0.5:
                decided += 1
                agree += int(np.argmax(got[t]) == top[0])
    print(f"default model + r16 adapter: top-1 agreement {agree}/{decided} decided positions "
          f"({total} in all); max |helix - llama.cpp| {max_diff:.3f}; adapter moves logits by up to {max_change:.2f}")
    assert decided >= total // 3
    assert agree >= 0.99 * decided
    assert max_change > 3 * max_diff, "the adapter changes less than the engines differ: test too weak"

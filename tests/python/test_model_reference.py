"""Each decoder architecture against two independent references, on tiny random models written
through Helix's own GGUF writer (`helix tiny-model`):
  1. a float64 numpy implementation reading the same file with gguf-py (ref_numpy.py);
  2. llama.cpp (PyPI llama-cpp-python) loading the same file.
Logits of every position are compared for prompts that cross gemma3's sliding window, computed
three ways by Helix: whole-prompt prefill, token-by-token decode, and several sequences batched.

Tolerances (max |helix - ref| / max |ref| over a prompt's logits): F32 weights 2e-3 (the KV
cache is f16); quantized weights 3e-2 (activations are quantized to 8 bits on the fly, as
llama.cpp does). The top-1 token must agree wherever the reference's top-2 margin exceeds the
tolerance.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import run_helix  # noqa: E402
from ref_numpy import RefModel  # noqa: E402

ARCHS = ["llama", "qwen2", "gemma3", "ernie4_5"]
TYPES = {"F32": 2e-3, "F16": 4e-3, "Q8_0": 3e-2, "Q4_K": 6e-2}
PROMPTS = [
    [1, 50, 60, 70, 80, 300],
    [1] + list(range(100, 117)),            # 18 tokens: crosses the tiny window of 8
    [1, 5, 9, 33, 200, 201, 202, 203, 319, 4, 4, 4, 4, 250, 251, 252, 253, 254, 255, 256, 7, 8, 9],
]


def helix_logits(helix_bin, model, prompts, tmp_path, chunk=None, tag="x"):
    out = tmp_path / f"logits_{tag}.f32"
    args = ["logits", "-m", model, "--tokens", ";".join(",".join(map(str, p)) for p in prompts),
            "--out", out]
    if chunk:
        args += ["--chunk", chunk]
    run_helix(helix_bin, *args)
    flat = np.fromfile(out, dtype=np.float32)
    n_vocab = flat.size // sum(len(p) for p in prompts)
    res, off = [], 0
    for p in prompts:
        res.append(flat[off:off + len(p) * n_vocab].reshape(len(p), n_vocab))
        off += len(p) * n_vocab
    return res


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def check_top1(got, ref, tol):
    scale = np.max(np.abs(ref))
    for t in range(ref.shape[0]):
        order = np.argsort(-ref[t])
        if (ref[t, order[0]] - ref[t, order[1]]) / scale > 2 * tol:
            assert int(np.argmax(got[t])) == int(order[0]), f"top-1 differs at position {t}"


@pytest.fixture(scope="module")
def tiny_models(helix_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    models = {}
    for arch in ARCHS:
        for t in TYPES:
            p = d / f"{arch}-{t}.gguf"
            run_helix(helix_bin, "tiny-model", arch, p, "--type", t, "--seed", "7",
                      *(["--tied"] if arch in ("gemma3", "ernie4_5") else []))
            models[(arch, t)] = str(p)
    return models


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("wtype", list(TYPES))
def test_against_numpy(helix_bin, tiny_models, tmp_path, arch, wtype):
    path = tiny_models[(arch, wtype)]
    tol = TYPES[wtype]
    ref = RefModel(path)
    prefill = helix_logits(helix_bin, path, PROMPTS, tmp_path, tag="prefill")
    decode = helix_logits(helix_bin, path, PROMPTS, tmp_path, chunk=1, tag="decode")
    chunked = helix_logits(helix_bin, path, PROMPTS, tmp_path, chunk=5, tag="chunk")
    for i, p in enumerate(PROMPTS):
        r = ref.forward(p)
        for name, got in (("prefill", prefill[i]), ("decode", decode[i]), ("chunked", chunked[i])):
            e = rel_err(got, r)
            assert e < tol, f"{arch} {wtype} prompt {i} ({name}): relative error {e:.2e} >= {tol}"
            check_top1(got, r, tol)


def _llama_cpp_logits(path, prompt):
    code = r"""
import sys, json, numpy as np, llama_cpp
path, toks, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
llm = llama_cpp.Llama(model_path=path, n_ctx=256, n_batch=256, n_threads=2, logits_all=True,
                      verbose=False, seed=0)
llm.eval(toks)
np.asarray(llm.scores[:len(toks)], dtype=np.float32).tofile(out)
"""
    import json
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".f32", delete=False) as f:
        out = f.name
    try:
        r = subprocess.run([sys.executable, "-c", code, path, json.dumps(prompt), out],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"llama.cpp failed: {r.stderr[-2000:]}"
        return np.fromfile(out, dtype=np.float32).reshape(len(prompt), -1)
    finally:
        os.unlink(out)


def check_against_llama_cpp(helix_bin, path, prompts, tmp_path, tol, label):
    got = helix_logits(helix_bin, path, prompts, tmp_path, tag="lc")
    for i, p in enumerate(prompts):
        ref = _llama_cpp_logits(path, p)
        e = rel_err(got[i], ref)
        assert e < tol, f"{label} prompt {i}: relative error vs llama.cpp {e:.2e} >= {tol}"
        check_top1(got[i], ref, tol)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("wtype", ["F32", "Q8_0", "Q4_K"])
def test_against_llama_cpp(helix_bin, tiny_models, tmp_path, arch, wtype):
    path = tiny_models[(arch, wtype)]
    tol = max(TYPES[wtype], 1e-2)  # llama.cpp itself uses f16 and 8-bit activations in places
    check_against_llama_cpp(helix_bin, path, PROMPTS, tmp_path, tol, f"{arch} {wtype}")


# RoPE variants of a tiny llama: Llama 3.1's rope_freqs.weight and the rope.scaling.* keys. A small
# rope base (100) and a short original context make every variant change the logits of these
# short prompts well beyond the tolerance (checked below, so that a Helix that ignored the tensor
# or a key would fail). "yarn_keys" sets the keys llama.cpp does not read for llama (ext/attn
# factor, betas), so it is checked against numpy only.
_BASE = ["--kv", "llama.rope.freq_base=f32:100"]
_YARN = _BASE + ["--kv", "llama.rope.scaling.type=str:yarn", "--kv", "llama.rope.scaling.factor=f32:4",
                 "--kv", "llama.rope.scaling.original_context_length=u32:256"]
ROPE_VARIANTS = {
    "freqs": _BASE + ["--rope-freqs"],
    "linear": _BASE + ["--rope-freqs", "--kv", "llama.rope.scaling.type=str:linear",
                       "--kv", "llama.rope.scaling.factor=f32:4"],
    "none": _BASE + ["--kv", "llama.rope.scaling.type=str:none", "--kv", "llama.rope.scaling.factor=f32:4"],
    "yarn": _YARN + ["--kv", "llama.rope.scaling.yarn_beta_fast=f32:32", "--kv", "llama.rope.scaling.yarn_beta_slow=f32:1"],
    "yarn_freqs": _YARN + ["--rope-freqs", "--kv", "llama.rope.scaling.attn_factor=f32:0.9"],
    "yarn_keys": _YARN + ["--kv", "llama.rope.scaling.yarn_beta_fast=f32:8", "--kv", "llama.rope.scaling.yarn_beta_slow=f32:2",
                          "--kv", "llama.rope.scaling.yarn_ext_factor=f32:0.5"],
}
ROPE_PROMPTS = PROMPTS + [[1] + [(17 * i) % 300 + 3 for i in range(60)]]


@pytest.fixture(scope="module")
def rope_models(helix_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("rope")
    models = {}
    for name, flags in [("plain", _BASE)] + list(ROPE_VARIANTS.items()):
        p = d / f"llama-{name}.gguf"
        run_helix(helix_bin, "tiny-model", "llama", p, "--seed", "7", *flags)
        models[name] = str(p)
    return models


@pytest.mark.parametrize("variant", list(ROPE_VARIANTS))
def test_rope_variants_against_numpy(helix_bin, rope_models, tmp_path, variant):
    path, tol = rope_models[variant], TYPES["F32"]
    ref, plain = RefModel(path), RefModel(rope_models["plain"])
    prefill = helix_logits(helix_bin, path, ROPE_PROMPTS, tmp_path, tag="prefill")
    decode = helix_logits(helix_bin, path, ROPE_PROMPTS, tmp_path, chunk=1, tag="decode")
    for i, p in enumerate(ROPE_PROMPTS):
        r = ref.forward(p)
        if i == len(ROPE_PROMPTS) - 1 and variant != "none":  # the variant matters for the long prompt
            assert rel_err(plain.forward(p), r) > 10 * tol, f"{variant} does not change the logits"
        for name, got in (("prefill", prefill[i]), ("decode", decode[i])):
            e = rel_err(got, r)
            assert e < tol, f"rope {variant} prompt {i} ({name}): relative error {e:.2e} >= {tol}"
            check_top1(got, r, tol)


@pytest.mark.parametrize("variant", [v for v in ROPE_VARIANTS if v != "yarn_keys"])
def test_rope_variants_against_llama_cpp(helix_bin, rope_models, tmp_path, variant):
    path, tol = rope_models[variant], 1e-2
    check_against_llama_cpp(helix_bin, path, ROPE_PROMPTS, tmp_path, tol, f"rope {variant}")


@pytest.mark.parametrize("flags,expect", [
    (["--kv", "general.architecture=str:mamba"], ["architecture 'mamba'", "supported: llama, qwen2, gemma3, ernie4_5"]),
    (["--drop-tensor", "blk.1.ffn_up.weight"], ["lacks the tensor 'blk.1.ffn_up.weight'"]),
    (["--extra-tensor", "blk.0.attn_sinks.weight"], ["tensor 'blk.0.attn_sinks.weight'", "does not use"]),
    (["--kv", "llama.rope.scaling.type=str:longrope"], ["RoPE scaling type 'longrope'", "supported: none, linear, yarn"]),
])
def test_unsupported_files_are_refused(helix_bin, tmp_path, flags, expect):
    """A file of an architecture or a tensor set Helix does not run is refused, naming what."""
    p = tmp_path / "odd.gguf"
    run_helix(helix_bin, "tiny-model", "llama", p, *flags)
    r = run_helix(helix_bin, "logits", "-m", p, "--tokens", "1,2,3", "--out", tmp_path / "x.f32", check=False)
    err = r.stderr.decode(errors="replace")
    assert r.returncode != 0, "helix ran a file it should refuse"
    for e in expect:
        assert e in err, f"{e!r} not in: {err}"

"""Helix's reference (de)quantizers against gguf-py, compared bit for bit.

Dequantization: `helix dequant` (raw f32 of every tensor, via src/quant) must give exactly the bits
of gguf.quants.dequantize for
  (a) every tensor of the default model (F32, Q5_0, Q4_K, Q8_0, Q6_K),
  (b) random block bytes of every supported type (with finite f16 scales), and
  (c) blocks produced by gguf-py's own quantizers.
Quantization: `helix quantize` of an F32 file must give exactly gguf-py's bytes for the types that
gguf-py can quantize (F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), on gaussian data plus edge cases;
for the K-quants (which gguf-py cannot produce) the blocks must decode in gguf-py to values close to
the input.
"""
import os

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT

from conftest import run_helix

BLOCK_TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
# Byte offsets of the f16 scales in each block (ggml-common.h); everything else may be any bits.
F16_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}
PY_QUANTIZABLE = ["F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]
# RMSE / sigma bounds for gaussian data (measured values in tests/quant/test_roundtrip.cpp, +5%).
K_RMSE = {"Q2_K": 0.311, "Q3_K": 0.159, "Q4_K": 0.075, "Q5_K": 0.038, "Q6_K": 0.0186}


def write_gguf(path, tensors):
    """tensors: list of (name, array, raw_dtype or None)."""
    w = gguf.GGUFWriter(str(path), "llama")
    for name, arr, raw in tensors:
        w.add_tensor(name, arr, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def helix_dequant(helix_bin, path, out, tensor=None):
    args = ["dequant", path, "--out", out] + (["--tensor", tensor] if tensor else [])
    run_helix(helix_bin, *args)
    return np.fromfile(out, dtype=np.uint32)


def assert_same_bits(ref, got, what):
    ref = np.ascontiguousarray(ref, dtype=np.float32).reshape(-1).view(np.uint32)
    got = np.asarray(got).reshape(-1)
    assert ref.size == got.size, f"{what}: {got.size} values from helix, {ref.size} from gguf-py"
    bad = np.nonzero(ref != got)[0]
    if bad.size:
        i = bad[:5]
        raise AssertionError(f"{what}: {bad.size} of {ref.size} values differ, first at {i.tolist()}: "
                             f"gguf-py {ref[i].view(np.float32)} vs helix {got[i].view(np.float32)}")


def random_blocks(rng, type_name, n_blocks):
    """Random bytes for n_blocks blocks, with the f16 scale fields set to finite values of mixed
    magnitude (normal and subnormal, both signs)."""
    qt = QT[type_name]
    _, type_size = gguf.GGML_QUANT_SIZES[qt]
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for off in F16_FIELDS[type_name]:
        scales = (rng.standard_normal(n_blocks) * np.exp2(rng.integers(-20, 8, n_blocks))).astype(np.float16)
        scales[:4] = np.array([0.0, -0.0, 6e-8, 65504.0], dtype=np.float16)
        raw[:, off:off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return raw


def test_default_model_every_tensor_bit_exact(helix_bin, default_model, tmp_path):
    reader = gguf.GGUFReader(default_model)
    run_helix(helix_bin, "dequant", default_model, "--out", tmp_path / "all.f32")
    got = np.memmap(tmp_path / "all.f32", dtype=np.uint32, mode="r")
    offset = 0
    types = set()
    for t in reader.tensors:
        ref = gguf.quants.dequantize(t.data, t.tensor_type)
        n = ref.size
        assert_same_bits(ref, got[offset:offset + n], f"{t.name} ({t.tensor_type.name})")
        offset += n
        types.add(t.tensor_type.name)
    assert offset == got.size, "helix wrote more values than the model has"
    assert {"F32", "Q5_0", "Q4_K", "Q8_0", "Q6_K"} <= types
    del got
    os.remove(tmp_path / "all.f32")


def test_default_model_single_tensor(helix_bin, default_model, tmp_path):
    reader = gguf.GGUFReader(default_model)
    t = next(t for t in reader.tensors if t.tensor_type == QT.Q6_K)
    got = helix_dequant(helix_bin, default_model, tmp_path / "one.f32", tensor=t.name)
    assert_same_bits(gguf.quants.dequantize(t.data, t.tensor_type), got, t.name)
    r = run_helix(helix_bin, "dequant", default_model, "--tensor", "no.such.tensor", "--out",
                  tmp_path / "x.f32", check=False)
    assert r.returncode == 1 and b"no.such.tensor" in r.stderr


@pytest.mark.parametrize("type_name", BLOCK_TYPES)
def test_random_blocks_bit_exact(helix_bin, tmp_path, type_name):
    rng = np.random.default_rng(sum(type_name.encode()) * 7919)
    block_size, type_size = gguf.GGML_QUANT_SIZES[QT[type_name]]
    rows, blocks_per_row = 48, 2048 // block_size
    raw = random_blocks(rng, type_name, rows * blocks_per_row).reshape(rows, blocks_per_row * type_size)
    path = tmp_path / "r.gguf"
    write_gguf(path, [("blk.0.ffn_up.weight", raw, QT[type_name])])
    t = gguf.GGUFReader(path).tensors[0]
    assert t.tensor_type == QT[type_name]
    got = helix_dequant(helix_bin, path, tmp_path / "r.f32")
    assert_same_bits(gguf.quants.dequantize(t.data, t.tensor_type), got, type_name)


def test_float_formats_bit_exact(helix_bin, tmp_path):
    rng = np.random.default_rng(7)
    # F16: all finite bit patterns plus infinities and quiet NaNs; BF16: any bits at all.
    f16 = np.arange(0, 65536, dtype=np.uint32).astype(np.uint16)
    exp_all_ones = (f16 & 0x7C00) == 0x7C00
    f16 = np.where(exp_all_ones & ((f16 & 0x3FF) != 0), f16 | 0x200, f16)  # keep NaNs quiet
    bf16 = rng.integers(0, 65536, size=65536, dtype=np.uint32).astype(np.uint16)
    f32 = rng.standard_normal(4096).astype(np.float32)
    path = tmp_path / "f.gguf"
    write_gguf(path, [("a.weight", f16.view(np.float16).reshape(256, 256), None),
                      ("b.weight", bf16.view(np.uint8).reshape(256, 512), QT.BF16),
                      ("c.weight", f32.reshape(64, 64), None)])
    reader = gguf.GGUFReader(path)
    got = helix_dequant(helix_bin, path, tmp_path / "f.f32")
    ref = np.concatenate([gguf.quants.dequantize(t.data, t.tensor_type).reshape(-1) for t in reader.tensors])
    assert [t.tensor_type.name for t in reader.tensors] == ["F16", "BF16", "F32"]
    assert_same_bits(ref, got, "F16/BF16/F32")


def edge_case_data(rng, rows=64, cols=1024):
    """Gaussian rows plus rows of zeros, -0.0, a constant, tiny and huge values, outliers, ties."""
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    x[1] = 0.0
    x[2] = -0.0
    x[3] = 0.375
    x[4] *= np.float32(1e-6)
    x[5] *= np.float32(300.0)
    x[6, ::7] *= np.float32(30.0)
    x[7] = np.round(x[7] * 4) / 4  # many exact halves and quarters
    x[8, :32] = np.arange(32, dtype=np.float32) - 16  # exact levels
    x[9] = np.abs(x[9])
    x[10, :512] = 0.0
    return x


@pytest.mark.parametrize("type_name", PY_QUANTIZABLE)
def test_quantize_matches_gguf_py(helix_bin, tmp_path, type_name):
    x = edge_case_data(np.random.default_rng(3))
    src, out = tmp_path / "in.gguf", tmp_path / "out.gguf"
    write_gguf(src, [("blk.0.ffn_up.weight", x, None)])
    run_helix(helix_bin, "quantize", src, out, type_name)
    t = gguf.GGUFReader(out).tensors[0]
    assert t.tensor_type == QT[type_name]
    ref = gguf.quants.quantize(x, QT[type_name])
    got = np.asarray(t.data)
    ref_bytes = np.ascontiguousarray(ref).view(np.uint8).reshape(x.shape[0], -1)
    got_bytes = np.ascontiguousarray(got).view(np.uint8).reshape(x.shape[0], -1)
    bad_rows = [i for i in range(x.shape[0]) if not np.array_equal(ref_bytes[i], got_bytes[i])]
    assert not bad_rows, f"{type_name}: rows {bad_rows[:10]} differ from gguf.quants.quantize"
    # and the blocks gguf-py made dequantize identically in helix
    pyq = tmp_path / "py.gguf"
    if type_name == "F16":
        write_gguf(pyq, [("blk.0.ffn_up.weight", ref, None)])
    else:
        write_gguf(pyq, [("blk.0.ffn_up.weight", ref_bytes, QT[type_name])])
    pt = gguf.GGUFReader(pyq).tensors[0]
    assert_same_bits(gguf.quants.dequantize(pt.data, pt.tensor_type), helix_dequant(helix_bin, pyq, tmp_path / "p.f32"),
                     f"gguf-py-quantized {type_name}")


@pytest.mark.parametrize("type_name", list(K_RMSE))
def test_k_quants_decode_in_gguf_py(helix_bin, tmp_path, type_name):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 1024)).astype(np.float32)
    src, out = tmp_path / "in.gguf", tmp_path / "out.gguf"
    write_gguf(src, [("blk.0.ffn_up.weight", x, None)])
    run_helix(helix_bin, "quantize", src, out, type_name)
    t = gguf.GGUFReader(out).tensors[0]
    assert t.tensor_type == QT[type_name]
    y = gguf.quants.dequantize(t.data, t.tensor_type).reshape(x.shape)
    rmse = float(np.sqrt(np.mean((y.astype(np.float64) - x) ** 2)))
    assert rmse < K_RMSE[type_name], f"{type_name}: RMSE {rmse:.4g} over bound {K_RMSE[type_name]}"
    assert_same_bits(y, helix_dequant(helix_bin, out, tmp_path / "o.f32"), f"helix-quantized {type_name}")

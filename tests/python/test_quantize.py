"""`helix quantize` on the default model, checked with gguf-py as the independent reader.

The output must open in gguf-py with the same tensors (names, shapes, order) and metadata, the
expected type for every tensor, general.file_type updated, and values close to the source's
(both decoded by gguf-py): F16 within half an f16 step of every value, Q8_0 within a small RMSE of
each tensor's RMS; tensors that already have the target type are copied unchanged. Q4_K_M must
reproduce llama.cpp's Q4_K_M tensor types - which is what the default model (a llama.cpp Q4_K_M
file) has.
"""
import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT

from conftest import run_helix

ROWS_CHECKED = 1024  # rows of each big matrix compared (all rows of smaller ones)


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def rows_of(t, n=ROWS_CHECKED):
    """Dequantized first n rows of a tensor (gguf-py), as float64 [rows, cols]."""
    data = t.data
    if data.ndim == 1:
        data = data.reshape(1, -1)
    data = data.reshape(-1, data.shape[-1])[:n]
    return gguf.quants.dequantize(data, t.tensor_type).astype(np.float64).reshape(min(n, data.shape[0]), -1)


def quantizable(t):
    return len(t.shape) >= 2 and t.name.endswith("weight") and "norm" not in t.name


@pytest.fixture(scope="module")
def source(default_model):
    return gguf.GGUFReader(default_model)


def quantize(helix_bin, src, tmp_path, type_name):
    out = tmp_path / f"out-{type_name}.gguf"
    r = run_helix(helix_bin, "quantize", src, out, type_name)
    return gguf.GGUFReader(out), r.stderr.decode()


def check_structure(src, out, file_type):
    assert [t.name for t in out.tensors] == [t.name for t in src.tensors]
    for a, b in zip(src.tensors, out.tensors):
        assert list(a.shape) == list(b.shape), a.name
    for key, f in src.fields.items():
        if key.startswith("GGUF.") or key in ("general.file_type", "general.quantization_version"):
            continue
        assert key in out.fields, f"metadata {key} was not copied"
        assert out.fields[key].types == f.types, key
        if not key.startswith("tokenizer.ggml."):  # big arrays: compared by length below
            assert out.fields[key].contents() == f.contents(), key
        else:
            assert len(out.fields[key].data) == len(f.data), key
    assert field(out, "general.file_type") == file_type


def test_quantize_q8_0(helix_bin, default_model, source, tmp_path):
    out, log = quantize(helix_bin, default_model, tmp_path, "Q8_0")
    check_structure(source, out, 7)
    assert field(out, "general.quantization_version") == 2
    n = len(source.tensors)
    assert f"[1/{n}]" in log and f"[{n}/{n}]" in log, "progress on stderr"
    assert "already quantized" in log, "requantizing a Q4_K_M model must warn"
    for a, b in zip(source.tensors, out.tensors):
        expect = QT.Q8_0 if quantizable(a) else a.tensor_type
        assert b.tensor_type == expect, f"{a.name}: {b.tensor_type.name}, expected {expect.name}"
        if a.tensor_type == b.tensor_type:
            assert np.array_equal(np.asarray(a.data), np.asarray(b.data)), f"{a.name} was not copied unchanged"
            continue
        x, y = rows_of(a), rows_of(b)
        rms = np.sqrt(np.mean(x * x))
        rmse = np.sqrt(np.mean((y - x) ** 2))
        # Q8_0 of gaussian data: RMSE 0.0054 sigma; measured here 0.0052-0.0060 per tensor.
        assert rmse <= 0.0075 * rms, f"{a.name} ({a.tensor_type.name}): RMSE {rmse:.3g} vs RMS {rms:.3g}"


@pytest.fixture(scope="module")
def f16_model(helix_bin, default_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("f16")
    reader, _ = quantize(helix_bin, default_model, d, "F16")
    return d / "out-F16.gguf", reader


def test_quantize_f16(source, f16_model):
    _, out = f16_model
    check_structure(source, out, 1)
    for a, b in zip(source.tensors, out.tensors):
        expect = QT.F16 if quantizable(a) else a.tensor_type
        assert b.tensor_type == expect, f"{a.name}: {b.tensor_type.name}, expected {expect.name}"
        x, y = rows_of(a), rows_of(b)
        # round to nearest: within half a step of f16 (relative 2^-11; 2^-25 among subnormals)
        tol = np.maximum(np.abs(x) * 2.0**-11, 2.0**-25)
        bad = np.abs(y - x) > tol
        assert not bad.any(), f"{a.name}: {bad.sum()} values off by more than half an f16 step"


def test_quantize_q4_k_m_from_f16(helix_bin, source, f16_model, tmp_path):
    """F16 -> Q4_K_M exercises every type of the mix (Q4_K, Q6_K and the fallbacks Q5_0 / Q8_0
    for rows of 640, not a multiple of 256). The default model was made by llama.cpp's Q4_K_M, so
    the same rules must give it the same type for every tensor."""
    f16_path, f16 = f16_model
    out, log = quantize(helix_bin, f16_path, tmp_path, "Q4_K_M")
    assert "already quantized" not in log
    check_structure(source, out, 15)
    assert field(out, "general.quantization_version") == 2
    diff = [(s.name, s.tensor_type.name, b.tensor_type.name)
            for s, b in zip(source.tensors, out.tensors) if s.tensor_type != b.tensor_type]
    assert not diff, f"tensor types differ from llama.cpp's Q4_K_M: {diff[:10]}"
    # RMSE / RMS against the F16 values. These values came from this very Q4_K_M file, so they lie
    # (up to f16 rounding) on grids the formats can represent, and a good scale search finds those
    # grids again: measured worst Q4_K 0.0011, Q6_K 0.0004, Q8_0 0.0002, Q5_0 0.0001 - far below
    # the error on fresh data (gaussian: Q4_K 0.071, Q5_0 0.043, Q6_K 0.018, Q8_0 0.0054).
    bounds = {QT.Q4_K: 0.005, QT.Q5_0: 0.001, QT.Q6_K: 0.002, QT.Q8_0: 0.001}
    seen = set()
    for a, b in zip(f16.tensors, out.tensors):
        if b.tensor_type in bounds:
            seen.add(b.tensor_type)
            x, y = rows_of(a, 256), rows_of(b, 256)
            rmse = np.sqrt(np.mean((y - x) ** 2))
            rms = np.sqrt(np.mean(x * x))
            assert rmse <= bounds[b.tensor_type] * rms, f"{a.name} ({b.tensor_type.name}): {rmse / rms:.4f}"
        else:
            assert b.tensor_type == a.tensor_type == QT.F32, b.name
    assert seen == set(bounds)


def test_quantize_errors(helix_bin, default_model, tmp_path):
    r = run_helix(helix_bin, "quantize", default_model, tmp_path / "x.gguf", "Q7_Z", check=False)
    assert r.returncode == 1 and b"Q7_Z" in r.stderr
    r = run_helix(helix_bin, "quantize", default_model, default_model, "Q8_0", check=False)
    assert r.returncode == 1
    r = run_helix(helix_bin, "quantize", tmp_path / "missing.gguf", tmp_path / "x.gguf", "Q8_0", check=False)
    assert r.returncode == 1 and b"missing.gguf" in r.stderr
    assert not (tmp_path / "x.gguf").exists()


def test_quantize_rejects_non_finite(helix_bin, tmp_path):
    x = np.random.default_rng(1).standard_normal((8, 256)).astype(np.float32)
    x[3, 17] = np.nan
    src = tmp_path / "nan.gguf"
    w = gguf.GGUFWriter(str(src), "llama")
    w.add_tensor("blk.0.ffn_up.weight", x)
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(256, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = run_helix(helix_bin, "quantize", src, tmp_path / "q.gguf", "Q4_K", check=False)
    assert r.returncode == 1 and b"blk.0.ffn_up.weight" in r.stderr and b"non-finite" in r.stderr
    assert not (tmp_path / "q.gguf").exists()
    # Float targets keep NaN as NaN.
    run_helix(helix_bin, "quantize", src, tmp_path / "h.gguf", "F16")
    out = gguf.GGUFReader(tmp_path / "h.gguf")
    assert [t.tensor_type for t in out.tensors] == [QT.F16, QT.F32]
    y = np.asarray(out.tensors[0].data).astype(np.float32).reshape(8, 256)
    assert np.isnan(y[3, 17]) and np.isnan(y).sum() == 1

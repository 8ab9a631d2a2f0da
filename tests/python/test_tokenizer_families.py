"""Every byte-level BPE pre-tokenizer family (tokenizer.ggml.pre) and ERNIE 4.5's tokenizer
against Hugging Face `tokenizers`, the independent reference.

A small byte-level BPE vocabulary is trained with HF's BpeTrainer on the shared torture corpus
(tokenizer_corpus.py: whitespace runs, digits, CJK, emoji, code, mixed scripts) plus a few
whole-word tokens that merges cannot reach (they show whether a family ignores merges). For each
family a GGUF vocabulary file carrying `tokenizer.ggml.pre = <family>` is written with gguf-py,
and `helix tokenize --jsonl` must give exactly the ids of an HF tokenizer built from the same
vocabulary and merges with the family's pre-tokenizer (hf_reference.BPE_FAMILIES: the Split
regexes / Digits / ByteLevel of the models' tokenizer.json), text for text.

ERNIE 4.5 GGUF files declare the SentencePiece model (tokenizer.ggml.model = llama, as
llama.cpp's convert_hf_to_gguf.py writes for Ernie4_5ForCausalLM) with no prefix space and no
BOS (the HF tokenizer has add_prefix_space=False, add_bos_token=False), ERNIE's control tokens
and byte fallback: a GGUF of that kind against HF's BPE with byte fallback rebuilt from it.
"""
import json

import gguf
import pytest
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

import hf_reference
import tokenizer_corpus
from conftest import run_helix
from test_tokenizer_reference import compare, helix_ids

N_TEXTS = 1000

# Texts aimed at the differences between families (contractions in any case, title case and
# camel case, digit runs, Han next to kana and Latin, marks, non-ASCII spaces, chameleon's
# image and sentinel spellings, punctuation that some families split off).
EXTRA = [
    "I'M DON'T we'Re THEY'LL it's O'NEIL", "HTTPServer getHTTPResponse iPhone ǅungla ǄUNGLA",
    "ПРИВЕТмир ΑΘΗΝΑαθηνα", "1234567 12345678 123456 ١٢٣٤٥ ½ x² Ⅻ ⑦", "in 2024-01-01, 3.14159",
    "中文abc中文 ひらがなカタカナ漢字 한국어", "e\u0301te\u0301 naïve", "a\u3000b\u2003c\u00a0d  \n\n\t e",
    "IMGIMGABZ IMGIMGAAAAZ <sentinel:12> <sentinel:x>", "    four  two\t\ttab\n\nnl",
    "x = a->b; // comment\n\tif (x) { return y[0]; }\r\n", "Hello, world! (yes) ... ¿qué? ¡sí!",
    "'s 't 'LL \u017f 's'", "...!!!???", "A.B.C. d.e.f", "\u0915\u094d\u0937 \u0e2a\u0e27\u0e31\u0e2a",
    "$100 + 20% = <tag> ^~|`", "trailing spaces   ", "   leading", "\n", " ", "",
]

# Whole words (as GPT-2 byte-level strings) added to the vocabulary without merges.
EXTRA_WORDS = ["ĠGemma", "Ġtransformer", "Hello", "ĠHTTP", "ĠĠĠ", "ĊĊ", "Ġnaïve", "ä¸Ńæĸĩ"]


@pytest.fixture(scope="module")
def texts():
    return tokenizer_corpus.texts(N_TEXTS) + EXTRA


@pytest.fixture(scope="module")
def bpe_vocab(texts):
    """(tokens, merges) of a byte-level BPE trained on the corpus with merges across words."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=2500, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    model = json.loads(tok.to_str())["model"]
    vocab = model["vocab"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    assert tokens == [t for t in tokens if t] and len(tokens) == len(vocab)
    tokens += [w for w in EXTRA_WORDS if w not in vocab]
    return tokens, merges


@pytest.fixture(scope="module")
def hf_ids(bpe_vocab, texts):
    """family -> HF's ids of every text (computed once per family)."""
    tokens, merges = bpe_vocab
    vocab = {t: i for i, t in enumerate(tokens)}
    cache = {}

    def get(family):
        if family not in cache:
            ref = hf_reference.bpe_family(family, vocab, merges)
            cache[family] = [e.ids for e in ref.encode_batch(texts, add_special_tokens=False)]
        return cache[family]
    return get


def write_bpe_gguf(path, pre, tokens, merges):
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.NORMAL] * len(tokens))
    w.add_token_merges([f"{a} {b}" for a, b in merges])
    w.add_add_bos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.mark.parametrize("family", sorted(hf_reference.BPE_FAMILIES))
def test_bpe_family_matches_hf(helix_bin, bpe_vocab, texts, hf_ids, tmp_path, family):
    tokens, merges = bpe_vocab
    path = tmp_path / f"{family}.gguf"
    write_bpe_gguf(path, family, tokens, merges)
    want = hf_ids(family)
    got = helix_ids(helix_bin, str(path), texts, tmp_path, False, False)
    compare(texts, got, want, f"pre-tokenizer {family} vs HF tokenizers")


@pytest.mark.parametrize("family", sorted(hf_reference.BPE_FAMILIES))
def test_bpe_family_tokenizer_json_matches_hf(helix_bin, bpe_vocab, texts, hf_ids, tmp_path, family):
    """The same tokenizer saved by HF as tokenizer.json, which helix reads itself."""
    tokens, merges = bpe_vocab
    path = tmp_path / "tokenizer.json"
    hf_reference.bpe_family(family, {t: i for i, t in enumerate(tokens)}, merges).save(str(path))
    got = helix_ids(helix_bin, str(path), texts, tmp_path, False, False)
    compare(texts, got, hf_ids(family), f"tokenizer.json of {family} vs HF tokenizers")


# ---- SentencePiece-style BPE (Gemma 4, Granite embedding 311m, Sarvam) ----------------------

SPM_BPE_CONTROL = ["<pad>", "<eos>", "<bos>", "<unk>"]


@pytest.fixture(scope="module")
def spm_bpe_gguf(texts, tmp_path_factory):
    """family -> (GGUF path, HF reference): a BPE trained on raw text with spaces as U+2581 and a
    small alphabet (so rare characters need the <0xXX> byte tokens), control tokens first."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[^\n]+|[\n]+"), behavior="isolated")
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=3000, show_progress=False, limit_alphabet=300))
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    fixed = SPM_BPE_CONTROL + [f"<0x{b:02X}>" for b in range(256)]
    tokens = fixed + [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1]) if t not in fixed]
    types = [gguf.TokenType.CONTROL] * 4 + [gguf.TokenType.BYTE] * 256 + \
        [gguf.TokenType.NORMAL] * (len(tokens) - len(fixed))
    d = tmp_path_factory.mktemp("spm_bpe")
    out = {}
    for family in hf_reference.SPM_BPE_FAMILIES:
        path = d / f"{family}.gguf"
        w = gguf.GGUFWriter(str(path), "gemma4")
        # Gemma 4's converter names the model itself; the others are gpt2 with a pre-tokenizer.
        w.add_tokenizer_model("gemma4" if family == "gemma4" else "gpt2")
        w.add_tokenizer_pre(family)
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges([f"{a} {b}" for a, b in merges])
        w.add_bos_token_id(2)
        w.add_eos_token_id(1)
        w.add_add_bos_token(False)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        out[family] = path
    return out, hf_reference.spm_bpe_family({t: i for i, t in enumerate(tokens)}, merges)


@pytest.mark.parametrize("family", hf_reference.SPM_BPE_FAMILIES)
def test_spm_bpe_family_matches_hf(helix_bin, spm_bpe_gguf, texts, tmp_path, family):
    paths, ref = spm_bpe_gguf
    want = [e.ids for e in ref.encode_batch(texts, add_special_tokens=False)]
    assert sum(1 for ids in want for i in ids if 4 <= i < 260) > 100  # byte fallback is exercised
    got = helix_ids(helix_bin, str(paths[family]), texts, tmp_path, False, False)
    compare(texts, got, want, f"pre-tokenizer {family} vs HF tokenizers (BPE with byte fallback)")
    # Decoding gives Hugging Face's text; Gemma 4 always starts with BOS (llama.cpp's override).
    inp = tmp_path / "ids.jsonl"
    inp.write_text("".join(json.dumps(ids) + "\n" for ids in want), encoding="utf-8")
    # (--parse-special: entries such as <end_of_turn>, which the trained vocabulary has as text,
    # are control tokens to llama.cpp and helix, shown only when asked for.)
    out = run_helix(helix_bin, "tokenize", "-m", paths[family], "--decode", "--jsonl", "--parse-special",
                    "-f", inp).stdout
    back = [json.loads(line) for line in out.decode().split("\n")[:len(texts)]]
    bad = [i for i in range(len(texts)) if back[i] != ref.decode(want[i], skip_special_tokens=False)]
    assert not bad, [(texts[i], back[i]) for i in bad[:3]]
    with_bos = run_helix(helix_bin, "tokenize", "-m", paths[family], "--ids", "hi").stdout.split()
    assert (with_bos[0] == b"2") == (family != "sarvam-moe"), with_bos


def test_families_differ(hf_ids):
    """The families are not all the same split of the corpus (so each comparison means something)."""
    seen = {}
    for family in hf_reference.BPE_FAMILIES:
        seen.setdefault(tuple(map(tuple, hf_ids(family))), []).append(family)
    same = [f for f in seen.values() if len(f) > 1]
    # dbrx and chatglm differ from llama3 only in flags (merges, BOS); bailingmoe's regex (possessive
    # quantifiers, \s*[\r\n]) splits as qwen2's does.
    assert sorted(map(sorted, same)) == [["bailingmoe", "qwen2"], ["chatglm-bpe", "dbrx"]], same


def test_unknown_pre_tokenizer_is_a_clear_error(helix_bin, bpe_vocab, tmp_path):
    tokens, merges = bpe_vocab
    path = tmp_path / "unknown.gguf"
    write_bpe_gguf(path, "no-such-family", tokens, merges)
    r = run_helix(helix_bin, "tokenize", "-m", path, "hi", check=False)
    err = r.stderr.decode()
    assert r.returncode != 0
    assert "'no-such-family'" in err and "starcoder" in err and "kimi-k2" in err, err


# ---- ERNIE 4.5 (SentencePiece BPE, no prefix space) ------------------------------------------

ERNIE_CONTROL = ["<unk>", "<s>", "</s>", "<pad>", "<|begin_of_sentence|>", "<|end_of_sentence|>",
                 "<mask:0>", "<mask:1>", "<mask:4>", "<mask:5>", "<mask:6>", "<mask:7>",
                 "<|IMAGE_PLACEHOLDER|>"]


def ernie_like_gguf(path, texts):
    """A GGUF shaped like an ERNIE 4.5 one: SentencePiece BPE pieces with U+2581 for spaces and
    scores by merge rank, byte fallback tokens, ERNIE's control tokens, no prefix space."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never")
    trainer = trainers.BpeTrainer(vocab_size=3000, show_progress=False)
    tok.train_from_iterator(texts, trainer)
    vocab = json.loads(tok.to_str())["model"]["vocab"]
    fixed = ERNIE_CONTROL + [f"<0x{b:02X}>" for b in range(256)]
    # Pieces that spell a tag (the corpus spells "<end_of_turn>", "<0x41>", ...) are left out: the
    # real vocabulary has no second token with the text of a control or byte token. Pieces such
    # as "0x41>" stay: "<" + "0x41>" spells a byte token, which only byte fallback may give.
    pieces = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])
              if t not in fixed and not ("<" in t and ">" in t)]
    tokens = fixed + pieces
    types = [gguf.TokenType.CONTROL] * len(ERNIE_CONTROL) + [gguf.TokenType.BYTE] * 256 + \
        [gguf.TokenType.NORMAL] * len(pieces)
    types[0] = gguf.TokenType.UNKNOWN
    scores = [0.0] * (len(ERNIE_CONTROL) + 256) + [-float(i) for i in range(len(pieces))]
    w = gguf.GGUFWriter(str(path), "ernie4_5")
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_pad_token_id(3)
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module")
def ernie_gguf(texts, tmp_path_factory):
    path = tmp_path_factory.mktemp("ernie") / "ernie.gguf"
    ernie_like_gguf(path, texts)
    return path


@pytest.mark.parametrize("parse_special", [False, True])
def test_ernie_like_spm_matches_hf(helix_bin, texts, ernie_gguf, tmp_path, parse_special):
    path = ernie_gguf
    ref = hf_reference.ernie_spm(str(path))
    texts = texts + ["<|begin_of_sentence|>User: hi\nAssistant: ok<|end_of_sentence|>",
                     "<mask:1> x <s>y</s>", " lead", "\u2581\u2581x"]
    if parse_special:
        want = [e.ids for e in ref.encode_batch(texts, add_special_tokens=False)]
    else:  # HF always matches added tokens: compare the texts that spell none
        texts = [t for t in texts if not any(c in t for c in ERNIE_CONTROL)]
        want = [e.ids for e in ref.encode_batch(texts, add_special_tokens=False)]
    got = helix_ids(helix_bin, str(path), texts, tmp_path, False, parse_special)
    compare(texts, got, want, f"ERNIE-like SentencePiece vs HF (parse_special={parse_special})")


@pytest.mark.parametrize("model", ["no-such-model", "spm"])
def test_unsupported_tokenizer_model_is_a_clear_error(helix_bin, tmp_path, model):
    path = tmp_path / "m.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tokenizer_model(model)
    w.add_token_list(["a", "b"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = run_helix(helix_bin, "tokenize", "-m", path, "hi", check=False)
    err = r.stderr.decode()
    assert r.returncode != 0
    assert f"unsupported tokenizer model '{model}'" in err and "t5" in err and "gemma4" in err, err

"""The T5 / unigram tokenizer (tokenizer.ggml.model = t5) against SentencePiece, its reference.

Small unigram models are trained with PyPI `sentencepiece` on the shared torture corpus
(tokenizer_corpus.py) plus texts aimed at the normalizer (full-width forms, ligatures, combining
marks, compatibility characters, whitespace runs, emoji, CJK), with different normalizers:

- t5: nmt_nfkc (the precompiled character map T5 ships), T5's special ids (pad 0, </s> 1,
  <unk> 2, no BOS), prefix space, extra whitespace removed, two user-defined symbols;
- identity: no character map, no prefix space, whitespace kept;
- byte_fallback: identity with byte fallback (lossless: decoding gives the text back exactly);
- nfkc_byte_fallback: nfkc's character map, byte fallback, prefix space, whitespace kept.

Each is written to a GGUF file with gguf-py the way llama.cpp's convert_hf_to_gguf.py writes T5
vocabularies (model "t5", tokens, scores, token types, add_space_prefix,
remove_extra_whitespaces, precompiled_charsmap, special ids; no add_*_token keys, so </s> is
appended as llama.cpp does for t5), and `helix tokenize --jsonl` must give SentencePiece's ids
(then </s>) for every text; `helix tokenize --decode` must give SentencePiece's decoded text.
"""
import io
import json
import struct

import gguf
import pytest

import tokenizer_corpus
from conftest import run_helix
from test_tokenizer_reference import compare, helix_ids

spm = pytest.importorskip("sentencepiece")

N_TEXTS = 1000

EXTRA = [
    "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３！？", "ﬁnancial ﬂow ﬀ ﬃ ﬄ Ǆ ǅ ǆ Ĳ", "e\u0301 a\u0308 n\u0303 o\u0302\u0323 \u0915\u093f",
    "Å Å Å ﬅ ㍿ ㌔ ℃ ℉ № ™ ½ ⅞ ① ⑩ Ⅷ ｶﾀｶﾅ ﾊﾟ", "x² y₃ ㎏ ㎞ µ Ω K", "中文abc中文 ひらがなカタカナ漢字 한국어",
    "   leading", "trailing   ", "a  b   c    d\t\te\n\nf\r\ng", "\u3000ideographic\u3000space\u3000",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom", "soft\u00adhyphen nbsp\u00a0x", "\u2028\u2029\x85",
    "👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵 👍🏽 🦙🦙🦙", "<ud> [CODE] x<ud>y [CODE][CODE] <u d>", "<s> </s> <unk> <pad>",
    "\u2581 \u2581\u2581x", "control\x01\x02\x7fchars\x1b[0m", "tab\tsep", "", " ", "\n", "ｕｕｕ ｕ",
]

MODELS = {
    "t5": dict(normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
               user_defined_symbols=["<ud>", "[CODE]"]),
    "identity": dict(normalization_rule_name="identity", add_dummy_prefix=False,
                     remove_extra_whitespaces=False),
    "byte_fallback": dict(normalization_rule_name="identity", byte_fallback=True,
                          add_dummy_prefix=False, remove_extra_whitespaces=False),
    "nfkc_byte_fallback": dict(normalization_rule_name="nfkc", byte_fallback=True,
                               remove_extra_whitespaces=False),
}


def _varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def _fields(buf):
    """(field number, value) of a serialized protobuf message (varint and bytes fields)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield key >> 3, v


def normalizer_spec(model_proto):
    """(precompiled_charsmap, add_dummy_prefix, remove_extra_whitespaces) of a SentencePiece
    ModelProto (field 3, NormalizerSpec: 2 charsmap, 3 add_dummy_prefix, 4 remove_extra_ws;
    both flags default to true), read without the protobuf package."""
    spec = b"".join(v for f, v in _fields(model_proto) if f == 3)
    fields = dict(_fields(spec))
    return fields.get(2, b""), bool(fields.get(3, 1)), bool(fields.get(4, 1))


def write_t5_gguf(path, sp, model_proto, charsmap=None):
    """As convert_hf_to_gguf.py's T5Model.set_vocab (SentencePiece's user-defined symbols are
    written as NORMAL: it checks only unknown, control, unused and byte). `charsmap` replaces the
    model's own character map."""
    own, add_prefix, remove_ws = normalizer_spec(model_proto)
    charsmap = own if charsmap is None else charsmap
    tokens, scores, types = [], [], []
    for i in range(sp.vocab_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        t = gguf.TokenType.NORMAL
        if sp.is_unknown(i):
            t = gguf.TokenType.UNKNOWN
        elif sp.is_control(i):
            t = gguf.TokenType.CONTROL
        elif sp.is_unused(i):
            t = gguf.TokenType.UNUSED
        elif sp.is_byte(i):
            t = gguf.TokenType.BYTE
        types.append(t)
    w = gguf.GGUFWriter(str(path), "t5")
    w.add_tokenizer_model("t5")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_add_space_prefix(add_prefix)
    w.add_remove_extra_whitespaces(remove_ws)
    if charsmap:
        w.add_precompiled_charsmap(charsmap)
    for tid, add in ((sp.eos_id(), w.add_eos_token_id), (sp.unk_id(), w.add_unk_token_id),
                     (sp.pad_id(), w.add_pad_token_id), (sp.bos_id(), w.add_bos_token_id)):
        if tid >= 0:
            add(tid)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return charsmap


@pytest.fixture(scope="module")
def texts():
    return tokenizer_corpus.texts(N_TEXTS) + EXTRA


@pytest.fixture(scope="module")
def models(texts, tmp_path_factory):
    """name -> (SentencePieceProcessor, GGUF path, charsmap bytes, model proto), trained once."""
    d = tmp_path_factory.mktemp("ugm")
    out = {}
    for name, opts in MODELS.items():
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=buf,
                                       model_type="unigram", vocab_size=2000, hard_vocab_limit=False,
                                       character_coverage=0.995, minloglevel=2, num_threads=1, **opts)
        proto = buf.getvalue()
        sp = spm.SentencePieceProcessor(model_proto=proto)
        path = d / f"{name}.gguf"
        out[name] = (sp, path, write_t5_gguf(path, sp, proto), proto)
    return out


def helix_decode(helix_bin, model, ids_list, tmp_path):
    inp = tmp_path / "ids.jsonl"
    inp.write_text("".join(json.dumps(ids) + "\n" for ids in ids_list), encoding="utf-8")
    out = run_helix(helix_bin, "tokenize", "-m", model, "--decode", "--jsonl", "-f", inp).stdout
    lines = out.decode().split("\n")
    assert len(lines) >= len(ids_list)
    return [json.loads(line) for line in lines[:len(ids_list)]]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_ids_match_sentencepiece(helix_bin, models, texts, tmp_path, name):
    sp, path, charsmap, _ = models[name]
    assert bool(charsmap) == (name in ("t5", "nfkc_byte_fallback"))
    eos = sp.eos_id()
    want = [sp.encode(t) + [eos] for t in texts]
    got = helix_ids(helix_bin, str(path), texts, tmp_path, True, False)
    compare(texts, got, want, f"unigram model '{name}' vs SentencePiece {spm.__version__}")
    # The comparison covers what it should: unknown characters, byte fallback, normalization.
    flat = [i for ids in want for i in ids]
    if "byte_fallback" in name:
        assert sum(sp.is_byte(i) for i in flat) > 100
    else:
        assert flat.count(sp.unk_id()) > 20
    if charsmap:
        assert sum(sp.decode(sp.encode(t)) != t.strip() for t in texts) > 50  # text was normalized


@pytest.mark.parametrize("name", sorted(MODELS))
def test_decode_matches_sentencepiece(helix_bin, models, texts, tmp_path, name):
    sp, path, _, _ = models[name]
    ids = [sp.encode(t) for t in texts]
    # SentencePiece shows an unknown token as " \u2047 "; helix (as llama.cpp) shows nothing.
    keep = [i for i, x in enumerate(ids) if sp.unk_id() not in x]
    assert len(keep) > 0.6 * len(texts)
    got = helix_decode(helix_bin, str(path), [ids[i] for i in keep], tmp_path)
    want = [sp.decode(ids[i]) for i in keep]
    bad = [k for k in range(len(keep)) if got[k] != want[k]]
    assert not bad, [(texts[keep[k]], got[k], want[k]) for k in bad[:5]]


def test_byte_fallback_round_trip_is_exact(helix_bin, models, texts, tmp_path):
    sp, path, _, _ = models["byte_fallback"]
    ids = helix_ids(helix_bin, str(path), texts, tmp_path, False, False)
    back = helix_decode(helix_bin, str(path), ids, tmp_path)
    # Exact, except that a U+2581 in the text reads back as a space (SentencePiece's own escape).
    want = [t.replace("\u2581", " ") for t in texts]
    bad = [i for i in range(len(texts)) if back[i] != want[i]]
    assert not bad, [(texts[i], back[i]) for i in bad[:5]]
    assert sum("\u2581" in t for t in texts) < 0.1 * len(texts)


def test_corrupt_charsmap_is_a_clear_error(helix_bin, models, tmp_path):
    sp, _, charsmap, proto = models["t5"]
    # A trie whose one key (byte 0x01) points past the replacement strings.
    outside = struct.pack("<I3I", 12, 0, 1 | 0x100 | (3 << 10), 0x80000000 | 1000) + b"ab\0"
    for blob, what in ((charsmap[:len(charsmap) // 2], "header gives"),
                       (outside, "points outside the blob"),
                       (charsmap[:-1] + b"x", "not NUL-terminated"),
                       (b"\x01\x02", "too short")):
        bad = tmp_path / "bad.gguf"
        write_t5_gguf(bad, sp, proto, blob)
        res = run_helix(helix_bin, "tokenize", "-m", bad, "hello", check=False)
        err = res.stderr.decode()
        assert res.returncode == 1, err
        assert "precompiled_charsmap is corrupt" in err and what in err, err

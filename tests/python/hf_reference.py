"""Builds Hugging Face `tokenizers` objects from a GGUF vocabulary (an independent reference).

gemma_like_spm(path): SentencePiece-style BPE (tokenizer.ggml.model = llama) as a tokenizers
BPE model with byte fallback: merges derived from the vocabulary and scores the way
transformers converts SentencePiece models (every split of a piece into two vocabulary entries,
ranked by the piece's score), spaces normalised to U+2581, control and user-defined tokens as
added tokens.
"""
import mmap
import struct

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors


# GGUF metadata value types (ggml docs/gguf.md).
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def read_metadata(path, wanted=None):
    """GGUF key/value metadata as Python values (a small independent reader, much faster than
    gguf-py on 262k-entry arrays). Arrays of strings become lists of str (invalid UTF-8 is
    replaced), numeric arrays lists of numbers."""
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    mv = memoryview(data)
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    assert magic == b"GGUF" and version in (2, 3), path
    pos = 24

    def string(pos):
        (n,) = struct.unpack_from("<Q", data, pos)
        return bytes(mv[pos + 8:pos + 8 + n]).decode("utf-8", errors="replace"), pos + 8 + n

    def value(t, pos):
        if t == 8:
            return string(pos)
        if t == 9:
            (et, n) = struct.unpack_from("<IQ", data, pos)
            pos += 12
            if et == 8:
                out = []
                for _ in range(n):
                    v, pos = string(pos)
                    out.append(v)
                return out, pos
            if et in _SCALARS:
                fmt = "<%d%s" % (n, _SCALARS[et])
                return list(struct.unpack_from(fmt, data, pos)), pos + struct.calcsize(fmt)
            out = []
            for _ in range(n):
                v, pos = value(et, pos)
                out.append(v)
            return out, pos
        fmt = "<" + _SCALARS[t]
        return struct.unpack_from(fmt, data, pos)[0], pos + struct.calcsize(fmt)

    meta = {}
    for _ in range(n_kv):
        key, pos = string(pos)
        (t,) = struct.unpack_from("<I", data, pos)
        v, pos = value(t, pos + 4)
        if wanted is None or key in wanted:
            meta[key] = v
    del mv
    data.close()
    return meta


def read_vocab(path):
    m = read_metadata(path)
    tokens = m["tokenizer.ggml.tokens"]
    scores = m.get("tokenizer.ggml.scores", [0.0] * len(tokens))
    types = m.get("tokenizer.ggml.token_type", [1] * len(tokens))
    meta = {
        "add_space_prefix": bool(m.get("tokenizer.ggml.add_space_prefix", True)),
        "bos": m.get("tokenizer.ggml.bos_token_id", 1),
        "merges": m.get("tokenizer.ggml.merges"),
    }
    return tokens, scores, types, meta


def spm_merges(tokens, scores, types):
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = []
    for i, piece in enumerate(tokens):
        if types[i] != 1 or len(piece) < 2:
            continue
        local = []
        for k in range(1, len(piece)):
            a, b = piece[:k], piece[k:]
            if a in vocab and b in vocab:
                local.append((vocab[a], vocab[b], a, b))
        local.sort()
        merges.extend((scores[i], -i, a, b) for _, _, a, b in local)
    merges.sort(key=lambda m: (-m[0], -m[1]))
    return [(a, b) for _, _, a, b in merges]


def gemma_like_spm(path):
    tokens, scores, types, meta = read_vocab(path)
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = spm_merges(tokens, scores, types)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True, fuse_unk=False,
                               unk_token=tokens[3] if len(tokens) > 3 else None))
    norm = [normalizers.Replace(" ", "\u2581")]
    if meta["add_space_prefix"]:
        norm.insert(0, normalizers.Prepend("\u2581"))
    tok.normalizer = normalizers.Sequence(norm)
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse()])
    added = []
    for i, t in enumerate(tokens):
        if types[i] in (3, 4):
            added.append(AddedToken(t, special=types[i] == 3, normalized=False))
    tok.add_tokens(added)
    return tok


def byte_level_bpe(path):
    """GPT-2 style byte-level BPE (tokenizer.ggml.model = gpt2, pre-tokenizer gpt-2)."""
    tokens, _, types, meta = read_vocab(path)
    merges = [tuple(m.split(" ", 1)) for m in meta["merges"]]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_tokens([AddedToken(tokens[i], special=True, normalized=False)
                    for i in range(len(tokens)) if types[i] == 3])
    return tok


def bert_wordpiece(path):
    """BERT WordPiece (tokenizer.ggml.model = bert) as Hugging Face's BertWordPieceTokenizer:
    BertNormalizer (clean text, CJK split, lowercase + strip accents by NFD), BertPreTokenizer,
    [CLS] ... [SEP]. The GGUF marks word-initial pieces with U+2581 and continuations with
    nothing; Hugging Face marks continuations with '##'."""
    tokens, _, types, meta = read_vocab(path)
    m = read_metadata(path, {"tokenizer.ggml.seperator_token_id", "tokenizer.ggml.unknown_token_id",
                             "tokenizer.ggml.cls_token_id"})
    vocab = {}
    for i, t in enumerate(tokens):
        if types[i] == 1:
            t = t[1:] if t.startswith("\u2581") else "##" + t
        vocab.setdefault(t, i)
    cls = tokens[m.get("tokenizer.ggml.cls_token_id", meta["bos"])]
    sep = tokens[m.get("tokenizer.ggml.seperator_token_id", 102)]
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token=tokens[m.get("tokenizer.ggml.unknown_token_id", 100)],
                                     max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single=f"{cls} $A {sep}", special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])])
    return tok

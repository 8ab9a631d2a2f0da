"""Builds Hugging Face `tokenizers` objects from a GGUF vocabulary (an independent reference).

gemma_like_spm(path): SentencePiece-style BPE (tokenizer.ggml.model = llama) as a tokenizers
BPE model with byte fallback: merges derived from the vocabulary and scores the way
transformers converts SentencePiece models (every split of a piece into two vocabulary entries,
ranked by the piece's score), spaces normalised to U+2581, control and user-defined tokens as
added tokens.
"""
import mmap
import struct

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors


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


def ernie_spm(path):
    """ERNIE 4.5's tokenizer as transformers converts it (LlamaTokenizerFast from the
    SentencePiece model, legacy, add_prefix_space=False): BPE with byte fallback, merges from the
    scores, spaces as U+2581 with none prepended, control and unknown tokens as special tokens."""
    tokens, scores, types, meta = read_vocab(path)
    assert not meta["add_space_prefix"]
    vocab = {t: i for i, t in enumerate(tokens)}
    unk = types.index(2) if 2 in types else None
    tok = Tokenizer(models.BPE(vocab=vocab, merges=spm_merges(tokens, scores, types), byte_fallback=True,
                               fuse_unk=True, unk_token=tokens[unk] if unk is not None else None))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse()])
    tok.add_tokens([AddedToken(t, special=types[i] in (2, 3), normalized=False)
                    for i, t in enumerate(tokens) if types[i] in (2, 3, 4)])
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


# ---- byte-level BPE pre-tokenizer families (tokenizer.ggml.pre) -------------------------------
# Each family as Hugging Face runs it: the pre_tokenizer of the models' tokenizer.json (Split
# regexes with behavior "isolated", Digits, ByteLevel), written here independently of helix's
# table. A string is a Split regex; the last ByteLevel maps bytes (use_regex=False) unless the
# family's own ByteLevel does the GPT-2 split (use_regex=True).
_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def _llama3(digits):
    return (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}" + digits +
            r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


_UP = r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"
_LO = r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"
_CONTR = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"
_TAIL = r"|\s*[\r\n]+|\s+(?!\S)|\s+"
_PORO = r" ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+"
# DeepSeek LLM's letter class (cased letters of many scripts), as its tokenizer.json has it.
_DEEPSEEK_LETTERS = (
    r"A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}"
    r"\x{295}-\x{2AF}\x{370}-\x{373}\x{376}-\x{377}\x{37B}-\x{37D}\x{37F}\x{386}"
    r"\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}"
    r"\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}"
    r"\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}"
    r"\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}"
    r"\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}"
    r"\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}"
    r"\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}"
    r"\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}"
    r"\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}-\x{2184}"
    r"\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}-\x{2CF3}"
    r"\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}"
    r"\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}"
    r"\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}"
    r"\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}"
    r"\x{1E900}-\x{1E943}")
_CJK = r"[\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+"
_DIGITS = "DIGITS"          # pre_tokenizers.Digits(individual_digits=True)
_BYTE_LEVEL = "BYTE_LEVEL"  # pre_tokenizers.ByteLevel(use_regex=True): the GPT-2 split + bytes

# family (its first tokenizer.ggml.pre name) -> (pre-tokenizer steps, ignore_merges)
BPE_FAMILIES = {
    "default": ([r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", "[0-9][0-9][0-9]"], False),
    "gpt-2": ([_BYTE_LEVEL], False),
    "llama3": ([_llama3("{1,3}")], True),
    "dbrx": ([_llama3("{1,3}")], False),
    "chatglm-bpe": ([_llama3("{1,3}")], False),
    "qwen2": ([_llama3("")], False),
    "bailingmoe": ([r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*"
                    r"|\s*[\r\n]|\s+(?!\S)|\s+"], False),
    "deepseek-llm": (["[\r\n]", r"\s?[" + _DEEPSEEK_LETTERS + "]+",
                      r"\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+",
                      r"\s+$", _CJK, r"\p{N}+"], False),
    "deepseek-coder": (["[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", _CJK, _DIGITS], False),
    "deepseek-v3": ([r"\p{N}{1,3}", r"[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+",
                     r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"""
                     r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"], False),
    # AFMoE: digits in groups of three from the right (llama.cpp's custom split of \p{N} runs),
    # then Asian scripts, then DeepSeek V3's main pattern.
    "afmoe": ([r"\p{N}{1,3}(?=(?:\p{N}{3})*(?!\p{N}))",
               r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{F900}-\x{FAFF}\x{3040}-\x{309F}\x{30A0}-\x{30FF}"
               r"\x{FF65}-\x{FF9F}\x{2F00}-\x{2FDF}\x{0E40}-\x{0E7F}\x{0E80}-\x{0EFF}\x{1780}-\x{17FF}"
               r"\x{1000}-\x{109F}\x{AA60}-\x{AA7F}\x{A9E0}-\x{A9FF}\x{AC00}-\x{D7AF}\x{1100}-\x{11FF}]+",
               r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"""
               r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"], False),
    "falcon": ([r"[\p{P}\$\+<=>\^~\|`]+", _GPT2, "[0-9][0-9][0-9]"], False),
    "starcoder": ([_DIGITS, _BYTE_LEVEL], False),
    "poro-chat": ([_PORO], False),
    "viking": ([_PORO, _DIGITS], False),
    "tekken": ([r"[^\r\n\p{L}\p{N}]?" + _UP + "*" + _LO + r"+|[^\r\n\p{L}\p{N}]?" + _UP + "+" + _LO +
                r"*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"], True),
    "chameleon": (["<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\t\n]|    |  )",
                   _DIGITS, r"[\p{P}!-/:-@\[-`{-~]", _GPT2], False),
    "gpt-4o": ([r"[^\r\n\p{L}\p{N}]?" + _UP + "*" + _LO + "+" + _CONTR + r"?|[^\r\n\p{L}\p{N}]?" + _UP +
                "+" + _LO + "*" + _CONTR + r"?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"],
               False),
    "superbpe": ([r"\p{N}+", r"(?=(\d{3})+(?!\d))"], False),
    "seed-coder": ([r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+"
                    r"|\s*[\r\n]+|\s+(?!\S)|\s+"], False),
    "kimi-k2": ([r"[\p{Han}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*"
                 r"[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+" + _CONTR +
                 r"?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+"
                 r"[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*" + _CONTR +
                 r"?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"], False),
    # Types of newer llama.cpp versions.
    "qwen35": ([_CONTR + r"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*" + _TAIL],
               False),
    "exaone-moe": ([_CONTR + r"|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}"
                    r"| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+"], False),
    "youtu": ([r"[\x{AC00}-\x{D7A3}\x{3131}-\x{318E}]+|[\x{FF01}\x{2026}\x{201C}\x{201D}\x{2018}\x{2019}"
               r"\x{2014}\x{FF1A}\x{FF1B}\x{FF0C}\x{3001}-\x{303F}\x{FE30}-\x{FE4F}]+|[\x{3105}-\x{312F}]+"
               r"|[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+",
               r"[^\r\n\p{L}\p{N}]?" + _UP + "*" + _LO + "+" + _CONTR + r"?|[^\r\n\p{L}\p{N}]?" + _UP +
               "+" + _LO + "*" + _CONTR + r"?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*" + _TAIL], True),
    "spark2_5": ([r"\p{N}{1,3}", r"[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+",
                  r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"""
                  r"| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+", _DIGITS], False),
    "ufakzeka": ([r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*" + _TAIL], False),
    "minicpm5": ([r"\p{N}{1,3}", _CONTR + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*" + _TAIL],
                 True),
    "jais-2": ([_CONTR + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                r"|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)"
                r"|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}"], False),
    "laguna": ([r"[^\n]+|[\n]+", _llama3("")], False),
    "tiny_aya": ([r"\d{1,3}(?=(?:\d{3})*\b)",
                  r"[^\r\n\p{L}\p{N}]?" + _UP + "*" + _LO + "+" + _CONTR + r"?|[^\r\n\p{L}\p{N}]?" + _UP +
                  "+" + _LO + "*" + _CONTR + r"?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*" + _TAIL], False),
    "granite-embed-multi-97m": (
        [r"[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+" + _CONTR +
         r"?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*" + _CONTR +
         r"?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*" + _TAIL], True),
}


def bpe_family(family, vocab, merges):
    """A Hugging Face byte-level BPE tokenizer with the family's pre-tokenizer."""
    steps, ignore_merges = BPE_FAMILIES[family]
    pts = []
    for s in steps:
        if s == _DIGITS:
            pts.append(pre_tokenizers.Digits(individual_digits=True))
        elif s == _BYTE_LEVEL:
            pts.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
        else:
            pts.append(pre_tokenizers.Split(Regex(s), behavior="isolated"))
    if steps[-1] != _BYTE_LEVEL:
        pts.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence(pts)
    tok.decoder = decoders.ByteLevel()
    return tok


# SentencePiece-style BPE families (tokenizer.ggml.pre gemma4, granite-embed-multi-311m, sarvam-moe):
# merges over raw UTF-8 characters with byte fallback to <0xXX> tokens, spaces replaced by U+2581
# first, the text split into runs of non-newlines and runs of newlines (as llama.cpp does).
SPM_BPE_FAMILIES = ["gemma4", "granite-embed-multi-311m", "sarvam-moe"]


def spm_bpe_family(vocab, merges):
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[^\n]+|[\n]+"), behavior="isolated")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse()])
    return tok


def bpe_family_from_gguf(path):
    """bpe_family() with a GGUF file's vocabulary, merges and tokenizer.ggml.pre (user-defined
    tokens as added tokens: both sides always match them)."""
    tokens, _, types, meta = read_vocab(path)
    pre = read_metadata(path, {"tokenizer.ggml.pre"}).get("tokenizer.ggml.pre", "default")
    merges = [tuple(m.split(" ", 1)) for m in meta["merges"]]
    tok = bpe_family(pre, {t: i for i, t in enumerate(tokens)}, merges)
    tok.add_tokens([AddedToken(t, special=False, normalized=False)
                    for i, t in enumerate(tokens) if types[i] == 4])
    return tok

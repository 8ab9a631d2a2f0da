"""Builds Hugging Face `tokenizers` objects from a GGUF vocabulary (an independent reference).

gemma_like_spm(path): SentencePiece-style BPE (tokenizer.ggml.model = llama) as a tokenizers
BPE model with byte fallback: merges derived from the vocabulary and scores the way
transformers converts SentencePiece models (every split of a piece into two vocabulary entries,
ranked by the piece's score), spaces normalised to U+2581, control and user-defined tokens as
added tokens.
"""
import gguf
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers


def read_vocab(path):
    r = gguf.GGUFReader(path)

    def field(name):
        return r.fields.get(name)

    f = field("tokenizer.ggml.tokens")
    tokens = [bytes(f.parts[i]).decode("utf-8", errors="replace") for i in f.data]
    sc = field("tokenizer.ggml.scores")
    scores = [float(sc.parts[i][0]) for i in sc.data] if sc else [0.0] * len(tokens)
    tt = field("tokenizer.ggml.token_type")
    types = [int(tt.parts[i][0]) for i in tt.data] if tt else [1] * len(tokens)

    def scalar(name, default=None):
        x = field(name)
        return default if x is None else x.parts[-1].tolist()[0]

    meta = {
        "add_space_prefix": bool(scalar("tokenizer.ggml.add_space_prefix", True)),
        "bos": scalar("tokenizer.ggml.bos_token_id", 1),
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
    r = gguf.GGUFReader(path)
    f = r.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    m = r.fields["tokenizer.ggml.merges"]
    merges = [tuple(bytes(m.parts[i]).decode("utf-8").split(" ", 1)) for i in m.data]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tt = r.fields.get("tokenizer.ggml.token_type")
    if tt is not None:
        types = [int(tt.parts[i][0]) for i in tt.data]
        tok.add_tokens([AddedToken(tokens[i], special=True, normalized=False)
                        for i in range(len(tokens)) if types[i] == 3])
    return tok

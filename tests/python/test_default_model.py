"""The default model (Gemma 3 270M Q4_K_M) against llama.cpp (PyPI llama-cpp-python) on the
same GGUF file:
  - top-1 next-token agreement on >= 99% of positions over 24 prompts (token ids from llama.cpp's
    tokenizer, so that this checks the model and not the tokenizer);
  - greedy 64-token continuations of the first 12 prompts: identical on at least half of them (the
    count is printed);
  - perplexity on the same text within 1% of llama.cpp's, same method on both sides (chunks of
    512 tokens starting with BOS, second half of each chunk scored).

llama.cpp's outputs are computed by make_default_model_reference.py and stored with the version
that made them in data/default_model_reference.json (keyed by the model file's SHA-256), so CI
does not pay for the full-size llama.cpp run; HELIX_LIVE_REFERENCE=1 (or a different model file)
computes them live instead.
"""
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import run_helix  # noqa: E402

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "def fibonacci(n):\n    ",
    "The three primary colors are",
    "Water boils at a temperature of",
    "In machine learning, overfitting means",
    "The quick brown fox",
    "To make a cup of tea, first",
    "Photosynthesis is the process by which",
    "The largest planet in our solar system is",
    "import numpy as np\nx = np.",
    "Dear Sir or Madam,\nI am writing to",
    "The French Revolution began in",
    "A haiku about autumn:\n",
    "SELECT name, age FROM users WHERE",
    "The recipe calls for two cups of",
    "Shakespeare wrote many plays, including",
    "The speed of light in a vacuum is",
    "Mount Everest is located in",
    "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
    "<start_of_turn>user\nName three fruits.<end_of_turn>\n<start_of_turn>model\n",
    "The stock market today",
    "My favorite book is",
    "Rain is caused by",
]

N_GREEDY_PROMPTS = 12  # greedy continuations are the slow part of the reference: the first 12 prompts

LLAMA_SCRIPT = r"""
import sys, json, numpy as np, llama_cpp
model, req = sys.argv[1], json.loads(sys.stdin.read())
llm = llama_cpp.Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=2, logits_all=True, verbose=False)
out = {"tokens": [], "argmax": [], "greedy": [], "nll": None}
for p in req["prompts"]:
    toks = llm.tokenize(p.encode(), add_bos=True, special=True)
    llm.reset(); llm.eval(toks)
    out["tokens"].append(toks)
    out["argmax"].append([int(np.argmax(llm.scores[i])) for i in range(len(toks))])
    gen = []
    if len(out["greedy"]) >= req["n_greedy_prompts"]:
        out["greedy"].append(gen)
        continue
    for t in llm.generate(toks, temp=0.0, top_k=1, reset=True):
        if t == llm.token_eos() or len(gen) >= req["n_greedy"]:
            break
        gen.append(int(t))
    out["greedy"].append(gen)
out["greedy_text"] = [llm.detokenize(g).decode("utf-8", errors="replace") for g in out["greedy"]]
ids = llm.tokenize(req["text"].encode(), add_bos=True, special=False)
n_ctx = req["n_ctx"]; nll = 0.0; cnt = 0
for c in range(len(ids) // n_ctx):
    chunk = ids[c * n_ctx:(c + 1) * n_ctx]; chunk[0] = llm.token_bos()
    llm.reset(); llm.eval(chunk)
    lg = np.asarray(llm.scores[:n_ctx], dtype=np.float64)
    for i in range(n_ctx // 2, n_ctx - 1):
        row = lg[i]; m = row.max()
        nll += -(row[chunk[i + 1]] - m - np.log(np.exp(row - m).sum())); cnt += 1
out["nll"] = nll; out["count"] = cnt; out["ppl"] = float(np.exp(nll / cnt))
print(json.dumps(out))
"""


def corpus_text():
    """About 2,900 tokens of natural English: the preamble and first sections of the GNU GPL v3
    (data/perplexity_corpus.txt, copied from Debian's /usr/share/common-licenses/GPL-3; verbatim
    copies are permitted)."""
    return (pathlib.Path(__file__).resolve().parent / "data" / "perplexity_corpus.txt").read_text()


STORED = pathlib.Path(__file__).resolve().parent / "data" / "default_model_reference.json"


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def live_reference(model):
    """Runs llama.cpp (llama-cpp-python) on the prompts, the greedy continuations and the corpus."""
    req = {"prompts": PROMPTS, "n_greedy": 64, "n_greedy_prompts": N_GREEDY_PROMPTS, "text": corpus_text(), "n_ctx": 512}
    r = subprocess.run([sys.executable, "-c", LLAMA_SCRIPT, model], input=json.dumps(req),
                       capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    import llama_cpp
    out["llama_cpp_python"] = llama_cpp.__version__
    out["model_sha256"] = sha256_of(model)
    return out


@pytest.fixture(scope="module")
def reference(default_model):
    if not os.environ.get("HELIX_LIVE_REFERENCE") and STORED.exists():
        stored = json.loads(STORED.read_text())
        if stored["model_sha256"] == sha256_of(default_model) and stored["prompts"] == PROMPTS \
                and stored["corpus_sha256"] == hashlib.sha256(corpus_text().encode()).hexdigest():
            return stored
        print("stored llama.cpp reference is for another model file or prompt set: computing it live")
    return live_reference(default_model)


def test_top1_agreement(helix_bin, default_model, reference, tmp_path):
    toks = reference["tokens"]
    out = tmp_path / "logits.f32"
    run_helix(helix_bin, "logits", "-m", default_model, "--tokens",
              ";".join(",".join(map(str, t)) for t in toks), "--out", out)
    flat = np.fromfile(out, dtype=np.float32)
    n_vocab = flat.size // sum(len(t) for t in toks)
    off, agree, total = 0, 0, 0
    for t, ref_argmax in zip(toks, reference["argmax"]):
        lg = flat[off:off + len(t) * n_vocab].reshape(len(t), n_vocab)
        off += len(t) * n_vocab
        agree += int(np.sum(lg.argmax(axis=1) == np.asarray(ref_argmax)))
        total += len(t)
    print(f"top-1 agreement with llama.cpp: {agree}/{total} = {agree / total:.4f}")
    assert agree / total >= 0.99


def test_greedy_continuations(helix_bin, default_model, reference, tmp_path):
    same = 0
    for p, ref_gen, ref_text in list(zip(PROMPTS, reference["greedy"], reference["greedy_text"]))[:N_GREEDY_PROMPTS]:
        r = run_helix(helix_bin, "run", "-m", default_model, "-p", p, "-n", len(ref_gen), "--temp", "0")
        text = r.stdout.decode("utf-8", errors="replace")
        # Compared as text: llama.cpp's continuation detokenized by llama.cpp.
        same += int(text == ref_text)
    print(f"greedy 64-token continuations identical to llama.cpp: {same}/{N_GREEDY_PROMPTS}")
    # Both engines quantize activations to 8 bits but round differently, so a near-tie between
    # the top two tokens can send a long greedy continuation another way; most must still agree.
    assert same >= N_GREEDY_PROMPTS // 2


def test_perplexity_matches(helix_bin, default_model, reference, tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text(corpus_text())
    r = run_helix(helix_bin, "perplexity", "-m", default_model, "-f", f, "-c", "512")
    m = re.search(r"perplexity: ([0-9.]+)", r.stdout.decode())
    assert m, r.stdout
    ppl = float(m.group(1))
    ref = reference["ppl"]
    print(f"perplexity helix {ppl:.4f} llama.cpp {ref:.4f} ratio {ppl / ref:.4f}")
    assert abs(ppl / ref - 1) < 0.01

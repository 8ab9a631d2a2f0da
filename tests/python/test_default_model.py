"""The default model (Gemma 3 270M Q4_K_M) against llama.cpp (PyPI llama-cpp-python) on the
same GGUF file:
  - top-1 next-token agreement over 24 prompts (194 positions; token ids from llama.cpp's
    tokenizer, so that this checks the model and not the tokenizer): >= 99% on every position
    whose answer is decided, and >= 95% over all positions (see below);
  - greedy 64-token continuations of the first 12 prompts (`helix run --temp 0`): each follows
    llama.cpp's up to llama.cpp's first near tie (top-two margin < 0.5); how many are identical
    to the end is printed (llama.cpp's own differ on 4 of 12 between two ways of evaluating the
    prompt, so identity to the end is not a check);
  - perplexity on the same text within 1% of llama.cpp's, same method on both sides (chunks of
    512 tokens starting with BOS, second half of each chunk scored).

Why not 99% on every position: this model amplifies rounding differences into logit differences
of ~0.3-0.45 RMS, so positions whose top two logits are closer than that are coin flips for any
engine. Measured on these 194 positions (2026-11-29): llama.cpp with flash attention vs without
agrees on 188 (96.9%); against a float64 numpy forward pass of the same file (ref_numpy.py, weights
dequantized by gguf-py, no activation quantization) llama.cpp agrees on 189 (190 with flash
attention, 186 with an f32 KV cache) and Helix on 187 (188 scalar). Every disagreement of any
pair is at a position where the float64 model's top-two margin is below 0.4; on the 124
positions where it is >= 0.5 ("decided"), all of them agree on all 124. So the strict check is
99% on decided positions (the float64 margins are stored), and the all-positions check asks for
the band llama.cpp itself lands in (95%).

llama.cpp's outputs (and the float64 reference's argmax and margins) are computed by
make_default_model_reference.py and stored with the versions that made them in
data/default_model_reference.json (keyed by the model file's SHA-256), so CI does not pay for
them; HELIX_LIVE_REFERENCE=1 (or a different model file) computes them live instead (about two
minutes and 2 GB for the float64 pass).
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

DECIDED_MARGIN = 0.5  # top-two logit margin above which a position's answer is decided
N_GREEDY_PROMPTS = 12  # greedy continuations are the slow part of the reference: the first 12 prompts

LLAMA_SCRIPT = r"""
import sys, json, numpy as np, llama_cpp
model, req = sys.argv[1], json.loads(sys.stdin.read())
llm = llama_cpp.Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=2, logits_all=True, verbose=False)
out = {"tokens": [], "argmax": [], "greedy": [], "greedy_margin": [], "nll": None}
for p in req["prompts"]:
    toks = llm.tokenize(p.encode(), add_bos=True, special=True)
    llm.reset(); llm.eval(toks)
    out["tokens"].append(toks)
    out["argmax"].append([int(np.argmax(llm.scores[i])) for i in range(len(toks))])
fa = llama_cpp.Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=2, logits_all=True, verbose=False, flash_attn=True)
out["argmax_flash_attn"] = []
for toks in out["tokens"]:
    fa.reset(); fa.eval(toks)
    out["argmax_flash_attn"].append([int(np.argmax(fa.scores[i])) for i in range(len(toks))])
del fa
for toks in out["tokens"]:
    gen, margin = [], []
    if len(out["greedy"]) >= req["n_greedy_prompts"]:
        out["greedy"].append(gen); out["greedy_margin"].append(margin)
        continue
    llm.reset()  # the whole prompt in one batch (a cached prefix would be decoded differently)
    for t in llm.generate(toks, temp=0.0, top_k=1, reset=True):
        if t == llm.token_eos() or len(gen) >= req["n_greedy"]:
            break
        top2 = np.sort(np.asarray(llm.scores[len(toks) - 1 + len(gen)]))[-2:]
        gen.append(int(t)); margin.append(round(float(top2[1] - top2[0]), 4))
    out["greedy"].append(gen); out["greedy_margin"].append(margin)
# The decided prefix of each continuation: the tokens before the first step whose top-two margin
# is below req["decided"] (a near tie, where any engine may go either way).
out["greedy_decided_text"] = []
for gen, margin in zip(out["greedy"], out["greedy_margin"]):
    k = next((i for i, m in enumerate(margin) if m < req["decided"]), len(gen))
    out["greedy_decided_text"].append(llm.detokenize(gen[:k]).decode("utf-8", errors="replace"))
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
    req = {"prompts": PROMPTS, "n_greedy": 64, "n_greedy_prompts": N_GREEDY_PROMPTS, "text": corpus_text(), "n_ctx": 512,
           "decided": DECIDED_MARGIN}
    r = subprocess.run([sys.executable, "-c", LLAMA_SCRIPT, model], input=json.dumps(req),
                       capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    import llama_cpp
    out["llama_cpp_python"] = llama_cpp.__version__
    out["model_sha256"] = sha256_of(model)
    out.update(float64_reference(model, out["tokens"]))
    return out


def float64_reference(model, tokens):
    """Argmax and top-two logit margin per position from ref_numpy's float64 forward pass."""
    import importlib.metadata
    from ref_numpy import RefModel
    m = RefModel(model)
    argmax, margin = [], []
    for t in tokens:
        lg = m.forward(t)
        top2 = np.sort(lg, axis=1)[:, -2:]
        argmax.append([int(i) for i in lg.argmax(axis=1)])
        margin.append([round(float(x), 4) for x in top2[:, 1] - top2[:, 0]])
    return {"f64_argmax": argmax, "f64_margin": margin,
            "f64_versions": f"numpy {np.__version__}, gguf {importlib.metadata.version('gguf')}"}


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
    helix = flat.reshape(-1, n_vocab).argmax(axis=1)
    cat = lambda key: np.concatenate([np.asarray(x) for x in reference[key]])  # noqa: E731
    llama, llama_fa, f64, margin = cat("argmax"), cat("argmax_flash_attn"), cat("f64_argmax"), cat("f64_margin")
    assert helix.size == llama.size == f64.size
    decided = margin >= DECIDED_MARGIN
    n, nd = helix.size, int(decided.sum())
    agree, agree_d = int((helix == llama).sum()), int((helix == llama)[decided].sum())
    print(f"top-1 agreement with llama.cpp: {agree}/{n} = {agree / n:.4f}; on decided positions "
          f"(float64 margin >= {DECIDED_MARGIN}): {agree_d}/{nd}")
    print(f"for scale: llama.cpp with vs without flash attention {int((llama_fa == llama).sum())}/{n}; "
          f"against float64: llama.cpp {int((llama == f64).sum())}/{n}, Helix {int((helix == f64).sum())}/{n}")
    miss = np.where(helix != llama)[0]
    print("float64 margins where Helix and llama.cpp differ:", [float(margin[i]) for i in miss])
    assert nd >= 100, "too few decided positions for the check to mean anything"
    assert agree_d / nd >= 0.99
    assert agree / n >= 0.95


def test_greedy_continuations(helix_bin, default_model, reference, tmp_path):
    same, decided_ok, decided_chars = 0, 0, 0
    for i, p in enumerate(PROMPTS[:N_GREEDY_PROMPTS]):
        r = run_helix(helix_bin, "run", "-m", default_model, "-p", p, "-n", len(reference["greedy"][i]), "--temp", "0")
        text = r.stdout.decode("utf-8", errors="replace")
        # Compared as text: llama.cpp's continuation detokenized by llama.cpp.
        same += int(text == reference["greedy_text"][i])
        decided = reference["greedy_decided_text"][i]
        decided_ok += int(text.startswith(decided))
        decided_chars += len(decided)
        if not text.startswith(decided):
            print(f"prompt {i}: Helix {text[:len(decided) + 20]!r} leaves llama.cpp's decided prefix {decided!r}")
    print(f"greedy 64-token continuations identical to llama.cpp: {same}/{N_GREEDY_PROMPTS}; "
          f"following llama.cpp up to its first near tie (margin < {DECIDED_MARGIN}): {decided_ok}/{N_GREEDY_PROMPTS} "
          f"({decided_chars} characters)")
    # After the first near tie either engine may go either way: llama.cpp's own continuations
    # differ on 4 of these 12 prompts between a batched and a cached-prefix evaluation of the
    # prompt (measured 2026-11-29). Before it, Helix must follow llama.cpp on every prompt.
    assert decided_ok == N_GREEDY_PROMPTS

    # The whole of llama.cpp's continuations, teacher-forced: on every step llama.cpp did not
    # decide by a near tie, Helix must pick the same token from the same context.
    seqs = [reference["tokens"][i] + reference["greedy"][i][:-1] for i in range(N_GREEDY_PROMPTS)]
    out = tmp_path / "greedy_logits.f32"
    run_helix(helix_bin, "logits", "-m", default_model, "--tokens", ";".join(",".join(map(str, t)) for t in seqs), "--out", out)
    flat = np.fromfile(out, dtype=np.float32)
    rows = flat.reshape(sum(len(t) for t in seqs), -1)
    off, agree, steps, agree_all, all_steps = 0, 0, 0, 0, 0
    for i, t in enumerate(seqs):
        n_prompt, gen = len(reference["tokens"][i]), reference["greedy"][i]
        pick = rows[off + n_prompt - 1:off + n_prompt - 1 + len(gen)].argmax(axis=1)
        decided = np.asarray(reference["greedy_margin"][i]) >= DECIDED_MARGIN
        same_tok = pick == np.asarray(gen)
        agree += int(same_tok[decided].sum()); steps += int(decided.sum())
        agree_all += int(same_tok.sum()); all_steps += len(gen)
        off += len(t)
    print(f"teacher-forced along llama.cpp's continuations: same token on {agree}/{steps} decided steps, "
          f"{agree_all}/{all_steps} of all steps")
    assert steps >= 400 and agree / steps >= 0.99


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

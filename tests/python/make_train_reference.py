#!/usr/bin/env python3
"""PyTorch reference for Helix's training step (tests/train/test_train_reference.cpp).

For tiny random models of llama, qwen2, gemma3 and ernie4_5 (written by `helix tiny-model`, so
Helix and this script read the same bytes), computes one training step's loss and every trainable
parameter's gradient with PyTorch autograd in float64: full fine-tuning of an F32 model, and LoRA
on F32, Q8_0 and Q4_K bases (the base dequantized with gguf-py). The model is written here from
the architectures' published definitions (GGUF conventions: ggml axis order, Gemma norm weights
with the +1 folded in), independently of Helix's code.

Also the preference objective (DPO, IPO, SFT, KL and reward-model-weighted terms; dpo_<arch>.gguf,
see make_dpo).

Writes tests/python/data/train_ref/<arch>_<case>.gguf: the batch (two packed samples with loss
masks), the LoRA factors' initial values, the loss and "grad.<param>" tensors, and the tiny
model's command line and FNV-1a hash so the C++ test regenerates and checks the same model.

Run with a Python that has torch (Debian python3-torch 1.13) and gguf-py:
  HELIX_BIN=build/helix python3 tests/python/make_train_reference.py
Reference outputs committed were produced with torch 1.13.0a0 (Debian 1.13.1+dfsg-4), float64.
"""
import math
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import torch
import gguf
from gguf.quants import dequantize

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "python" / "data" / "train_ref"
torch.set_default_dtype(torch.float64)

SMALL = ["--embd", "32", "--ff", "64", "--heads", "2", "--kv-heads", "1", "--head-dim", "16", "--vocab", "272", "--swa", "8"]
K256 = ["--embd", "256", "--ff", "256", "--heads", "4", "--kv-heads", "2", "--head-dim", "64", "--vocab", "272", "--swa", "8"]
# case name -> (mode, weight type, shape options)
CASES = {
    "full_f32": ("full", "F32", SMALL),
    "lora_f32": ("lora", "F32", SMALL),
    "lora_q8_0": ("lora", "Q8_0", SMALL),
    "lora_q4_k": ("lora", "Q4_K", K256),
}
ARCHS = ["llama", "qwen2", "gemma3", "ernie4_5"]
LORA_RANK, LORA_ALPHA = 4, 8.0
TARGETS = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]


def fnv1a64(data: bytes) -> str:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def batch(vocab, seed):
    """Two samples packed end to end: tokens, per-token targets (-1: none), positions, starts."""
    rng = np.random.default_rng(seed)
    tokens, targets, pos, start = [], [], [], []
    for n, first_loss in ((13, 5), (6, 2)):
        t = rng.integers(3, vocab, size=n)
        loss = np.zeros(n, dtype=bool)
        loss[first_loss:] = True  # Sample.loss[i]: token i is a target
        s = len(tokens)
        for i in range(n):
            tokens.append(int(t[i]))
            targets.append(int(t[i + 1]) if i + 1 < n and loss[i + 1] else -1)
            pos.append(i)
            start.append(s)
    return [np.asarray(a, dtype=np.int32) for a in (tokens, targets, pos, start)]


class Ref:
    def __init__(self, path):
        r = gguf.GGUFReader(path)
        f = r.fields
        get = lambda k, d=None: f[k].contents() if k in f else d
        a = self.arch = get("general.architecture")
        self.E, self.L = get(f"{a}.embedding_length"), get(f"{a}.block_count")
        self.H, self.Hkv = get(f"{a}.attention.head_count"), get(f"{a}.attention.head_count_kv")
        self.D = get(f"{a}.attention.key_length")
        self.eps = get(f"{a}.attention.layer_norm_rms_epsilon")
        self.base = get(f"{a}.rope.freq_base", 10000.0)
        self.swa = get(f"{a}.attention.sliding_window", 0)
        self.w = {}
        for t in r.tensors:
            shape = [int(x) for x in reversed(t.shape)]
            self.w[t.name] = torch.tensor(np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float64).reshape(shape))
        self.lora = {}

    def rms(self, x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, pos, base, neox):
        half = self.D // 2
        inv = base ** (-torch.arange(half, dtype=torch.float64) * 2.0 / self.D)
        th = pos.double()[:, None] * inv[None, :]
        c, s = torch.cos(th)[:, None, :].to(x.dtype), torch.sin(th)[:, None, :].to(x.dtype)
        if neox:
            a, b = x[..., :half], x[..., half:]
            return torch.cat([a * c - b * s, a * s + b * c], -1)
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack([a * c - b * s, a * s + b * c], -1).flatten(-2)

    def lin(self, name, x):
        y = x @ self.w[name + ".weight"].T
        if name + ".bias" in self.w:
            y = y + self.w[name + ".bias"]
        if name + ".weight" in self.lora:
            A, B = self.lora[name + ".weight"]
            y = y + (LORA_ALPHA / LORA_RANK) * ((x @ A.T) @ B.T)
        return y

    def attention(self, q, k, v, window):
        T = q.shape[0]
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        mask = j <= i
        if window:
            mask = mask & ((i - j) < window)
        g = self.H // self.Hkv
        out = []
        for h in range(self.H):
            s = (q[:, h] @ k[:, h // g].T) / math.sqrt(self.D)
            s = s.masked_fill(~mask, float("-inf"))
            out.append(torch.softmax(s, -1) @ v[:, h // g])
        return torch.stack(out, 1)

    def hidden(self, tokens):
        w, T = self.w, len(tokens)
        gemma = self.arch == "gemma3"
        neox = self.arch in ("qwen2", "gemma3")
        x = w["token_embd.weight"][torch.as_tensor(tokens, dtype=torch.long)]
        if gemma:
            x = x * math.sqrt(self.E)
        pos = torch.arange(T)
        for il in range(self.L):
            p = f"blk.{il}."
            h = self.rms(x, w[p + "attn_norm.weight"])
            q = self.lin(p + "attn_q", h).reshape(T, self.H, self.D)
            k = self.lin(p + "attn_k", h).reshape(T, self.Hkv, self.D)
            v = self.lin(p + "attn_v", h).reshape(T, self.Hkv, self.D)
            base, window = self.base, 0
            if gemma:
                q = self.rms(q, w[p + "attn_q_norm.weight"])
                k = self.rms(k, w[p + "attn_k_norm.weight"])
                if self.swa and il % 6 < 5:
                    base, window = 10000.0, self.swa
            q, k = self.rope(q, pos, base, neox), self.rope(k, pos, base, neox)
            a = self.lin(p + "attn_output", self.attention(q, k, v, window).reshape(T, -1))
            if gemma:
                a = self.rms(a, w[p + "post_attention_norm.weight"])
            x = x + a
            h = self.rms(x, w[p + "ffn_norm.weight"])
            g, u = self.lin(p + "ffn_gate", h), self.lin(p + "ffn_up", h)
            act = torch.nn.functional.gelu(g, approximate="tanh") if gemma else torch.nn.functional.silu(g)
            f = self.lin(p + "ffn_down", act * u)
            if gemma:
                f = self.rms(f, w[p + "post_ffw_norm.weight"])
            x = x + f
        return self.rms(x, w["output_norm.weight"])

    def loss(self, tokens, targets, start):
        hs = [self.hidden(tokens[s:e]) for s, e in segments(start)]
        x = torch.cat(hs, 0)
        out_w = self.w.get("output.weight", self.w["token_embd.weight"])
        sel = torch.as_tensor(np.nonzero(targets >= 0)[0], dtype=torch.long)
        logits = x[sel] @ out_w.T
        return torch.nn.functional.cross_entropy(logits, torch.as_tensor(targets[targets >= 0], dtype=torch.long))


def segments(start):
    b = sorted(set(int(s) for s in start)) + [len(start)]
    return list(zip(b[:-1], b[1:]))


def tiny_model(helix, arch, wtype, seed, shape, path):
    """Writes the tiny model with `helix tiny-model`; returns its argument list (MODEL for the path)."""
    argv = ["tiny-model", arch, "MODEL", "--type", wtype, "--seed", str(seed)] + shape
    subprocess.run([helix] + [path if a == "MODEL" else a for a in argv], check=True)
    return argv


def trainable(ref, mode, seed, random_b):
    """The parameters a step trains: every tensor (full), or LoRA factors on the seven projections
    (f32 values, as Helix stores them, held in float64; B random or zero)."""
    params = {}
    if mode == "full":
        for n, t in ref.w.items():
            t.requires_grad_(True)
            params[n] = t
        return params
    rng = np.random.default_rng(seed)
    for il in range(ref.L):
        for tgt in TARGETS:
            n = f"blk.{il}.{tgt}.weight"
            n_out, n_in = ref.w[n].shape
            a = (rng.uniform(-1, 1, (LORA_RANK, n_in)) / math.sqrt(n_in)).astype(np.float32)
            A = torch.tensor(a.astype(np.float64), requires_grad=True)
            if random_b:
                b = rng.normal(0, 0.05, (n_out, LORA_RANK)).astype(np.float32)
                B = torch.tensor(b.astype(np.float64), requires_grad=True)
            else:
                B = torch.zeros((n_out, LORA_RANK), requires_grad=True)  # the usual start
            ref.lora[n] = (A, B)
            params[n + ".lora_a"], params[n + ".lora_b"] = A, B
    return params


def lora_float_model(path, rank=16, alpha=32.0):
    """The benchmarks' PyTorch peer for LoRA (bench/train_bench.py, bench/dpo_bench.py): the model
    at `path` in float32 with LoRA factors on the seven projections as its only trainable tensors,
    initialized as PEFT does (A uniform in ±1/sqrt(n_in), B zero). Returns (ref, [A, B, ...])."""
    global LORA_RANK, LORA_ALPHA
    LORA_RANK, LORA_ALPHA = rank, alpha
    ref = Ref(path)
    ref.w = {k: v.float() for k, v in ref.w.items()}
    params = []
    for il in range(ref.L):
        for t in TARGETS:
            n = f"blk.{il}.{t}.weight"
            n_out, n_in = ref.w[n].shape
            A = ((torch.rand(rank, n_in, dtype=torch.float32) * 2 - 1) / math.sqrt(n_in)).requires_grad_(True)
            B = torch.zeros(n_out, rank, dtype=torch.float32).requires_grad_(True)
            ref.lora[n] = (A, B)
            params += [A, B]
    return ref, params


def full_float_model(path):
    """The PyTorch peer for full fine-tuning (bench/fullft_bench.py): the model at `path` in float32
    with every tensor trainable. Returns (ref, [tensors])."""
    ref = Ref(path)
    ref.w = {k: v.float().requires_grad_(True) for k, v in ref.w.items()}
    return ref, list(ref.w.values())


def make_case(helix, arch, case, tmp):
    mode, wtype, shape = CASES[case]
    model = os.path.join(tmp, f"{arch}_{case}.gguf")
    argv = tiny_model(helix, arch, wtype, 7, shape, model)
    ref = Ref(model)
    tokens, targets, pos, start = batch(int(shape[shape.index("--vocab") + 1]), 11)
    params = trainable(ref, mode, 5, True)
    loss = ref.loss(tokens, targets, start)
    loss.backward()
    w = gguf.GGUFWriter(str(OUT / f"{arch}_{case}.gguf"), "helix-train-reference")
    w.add_string("ref.torch_version", torch.__version__)
    w.add_string("ref.mode", mode)
    w.add_string("ref.model_args", "\t".join(argv))
    w.add_string("ref.model_fnv1a64", fnv1a64(pathlib.Path(model).read_bytes()))
    w.add_uint32("ref.lora_rank", LORA_RANK)
    w.add_float32("ref.lora_alpha", LORA_ALPHA)
    w.add_float64("ref.loss", float(loss))
    for n, a in (("tokens", tokens), ("targets", targets), ("pos", pos), ("start", start)):
        w.add_tensor("batch." + n, a)
    for n, t in params.items():
        if mode == "lora":
            w.add_tensor("init." + n, t.detach().numpy().astype(np.float32))
        w.add_tensor("grad." + n, t.grad.numpy().astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{arch} {case}: loss {float(loss):.6f}, {len(params)} parameters")


# Twenty optimizer steps: two micro-batches each (gradient accumulation), global-norm clipping,
# AdamW with weight decay, linear warmup then cosine decay (Hugging Face's formula).
CURVES = {"curve_full": ("qwen2", "full", 1e-2), "curve_lora": ("gemma3", "lora", 2e-2)}
STEPS, ACCUM, WARMUP, CLIP, WD = 20, 2, 3, 1.0, 0.01


def lr_factor(step):
    if step < WARMUP:
        return step / WARMUP
    progress = (step - WARMUP) / (STEPS - WARMUP)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def make_curve(helix, name, tmp):
    arch, mode, lr = CURVES[name]
    model = os.path.join(tmp, f"{name}.gguf")
    argv = tiny_model(helix, arch, "F32", 9, SMALL, model)
    ref = Ref(model)
    params = trainable(ref, mode, 6, False)
    init = {n: t.detach().numpy().astype(np.float32).copy() for n, t in params.items()}
    opt = torch.optim.AdamW(list(params.values()), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD)
    batches = [batch(272, 100 + i % ACCUM) for i in range(STEPS * ACCUM)]  # the same two, learnable
    losses, norms = [], []
    for step in range(STEPS):
        opt.zero_grad()
        mbs = batches[step * ACCUM:(step + 1) * ACCUM]
        n_tgt = sum(int((b[1] >= 0).sum()) for b in mbs)
        total = 0.0
        for tokens, targets, pos, start in mbs:
            # mean over this micro-batch's targets, rescaled to the whole step's
            l = ref.loss(tokens, targets, start) * (int((targets >= 0).sum()) / n_tgt)
            l.backward()
            total += float(l)
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), CLIP)))
        for g in opt.param_groups:
            g["lr"] = lr * lr_factor(step)
        opt.step()
        losses.append(total)
    w = gguf.GGUFWriter(str(OUT / f"{name}.gguf"), "helix-train-reference")
    w.add_string("ref.torch_version", torch.__version__)
    w.add_string("ref.mode", mode)
    w.add_string("ref.model_args", "\t".join(argv))
    w.add_string("ref.model_fnv1a64", fnv1a64(pathlib.Path(model).read_bytes()))
    w.add_uint32("ref.lora_rank", LORA_RANK)
    w.add_float32("ref.lora_alpha", LORA_ALPHA)
    w.add_float32("ref.lr", lr)
    for k, v in (("steps", STEPS), ("accum", ACCUM), ("warmup", WARMUP)):
        w.add_uint32("ref." + k, v)
    w.add_float32("ref.clip", CLIP)
    w.add_float32("ref.weight_decay", WD)
    w.add_tensor("curve.loss", np.asarray(losses, dtype=np.float64))
    w.add_tensor("curve.grad_norm", np.asarray(norms, dtype=np.float64))
    for i, b in enumerate(batches):
        for n, a in zip(("tokens", "targets", "pos", "start"), b):
            w.add_tensor(f"mb{i}.{n}", a)
    if mode == "lora":
        for n, a in init.items():
            w.add_tensor("init." + n, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{name}: losses {losses[0]:.4f} -> {losses[-1]:.4f}")


# DPO, IPO, SFT and KL terms of a preference step (src/train/prefs.h): two pairs packed in one batch,
# LoRA on an F32 base with random A and B (the policy), the base itself as the reference
# (reference = "base"), and the per-term formulas as in the DPO, cDPO and IPO papers (TRL's loss
# types "sigmoid" with label_smoothing, and "ipo" on length-averaged log-probabilities).
DPO_ARCHS = ["llama", "gemma3"]
DPO_BETA, DPO_EPS = 0.5, 0.1
DPO_CASES = {  # case -> ({loss: weight}, label smoothing)
    "dpo": ({"dpo": 1.0}, DPO_EPS),
    "ipo": ({"ipo": 1.0}, 0.0),
    "mix": ({"dpo": 1.0, "sft": 0.3, "kl": 0.2}, 0.0),
    "rm": ({"rm": 1.0}, 0.0),
    "rmmix": ({"dpo": 1.0, "sft": 0.2, "rm": 0.5}, 0.0),
}
# The rm term's reward scores (s(chosen), s(rejected)) of the two pairs, as a reward model would
# give them, and its temperature: q_c = sigmoid((s_c - s_r) / tau).
RM_SCORES, RM_TAU = [(1.5, -0.5), (-0.25, 0.75)], 0.5


def pairs(vocab, seed):
    """Two pairs: (prompt, chosen answer, rejected answer) token lists."""
    rng = np.random.default_rng(seed)
    out = []
    for n_prompt, n_c, n_r in ((6, 5, 4), (4, 3, 6)):
        prompt = [int(t) for t in rng.integers(3, vocab, size=n_prompt)]
        out.append((prompt, [int(t) for t in rng.integers(3, vocab, size=n_c)],
                    [int(t) for t in rng.integers(3, vocab, size=n_r)]))
    return out


def answer_logps(ref, prompt, answer):
    """log p of each answer token given everything before it (one sequence)."""
    tokens = prompt + answer
    x = ref.hidden(tokens)
    out_w = ref.w.get("output.weight", ref.w["token_embd.weight"])
    logp = torch.log_softmax(x[len(prompt) - 1:-1] @ out_w.T, -1)
    return logp[torch.arange(len(answer)), torch.as_tensor(answer, dtype=torch.long)]


def dpo_objective(ref, prs, weights, eps):
    saved, ref.lora = ref.lora, {}
    with torch.no_grad():  # the reference: the base without the adapter
        rlp = [(answer_logps(ref, p, c), answer_logps(ref, p, r)) for p, c, r in prs]
    ref.lora = saved
    plp = [(answer_logps(ref, p, c), answer_logps(ref, p, r)) for p, c, r in prs]
    terms = {}
    # dpo, ipo and rm leave out each answer's last token (its end of turn in real data); sft and kl keep it.
    full_plp, full_rlp = plp, rlp
    plp = [(pc[:-1], pr[:-1]) for pc, pr in plp]
    rlp = [(rc[:-1], rr[:-1]) for rc, rr in rlp]
    hs = torch.stack([DPO_BETA * ((pc.sum() - rc.sum()) - (pr.sum() - rr.sum())) for (pc, pr), (rc, rr) in zip(plp, rlp)])
    terms["dpo"] = (-(1 - eps) * torch.nn.functional.logsigmoid(hs) - eps * torch.nn.functional.logsigmoid(-hs)).mean()
    hi = torch.stack([(pc.sum() - rc.sum()) / len(pc) - (pr.sum() - rr.sum()) / len(pr) for (pc, pr), (rc, rr) in zip(plp, rlp)])
    terms["ipo"] = ((hi - 1 / (2 * DPO_BETA)) ** 2).mean()
    terms["sft"] = -torch.cat([pc for pc, _ in full_plp]).mean()
    d = torch.cat([torch.cat([pc - rc, pr - rr]) for (pc, pr), (rc, rr) in zip(full_plp, full_rlp)])
    terms["kl"] = (0.5 * d * d).mean()
    rm = []
    for (pc, pr), (sc, sr) in zip(plp, RM_SCORES):
        qc = 1 / (1 + math.exp(-(sc - sr) / RM_TAU))
        rm.append(-(qc * pc.sum() / len(pc) + (1 - qc) * pr.sum() / len(pr)))
    terms["rm"] = torch.stack(rm).mean()
    total = sum(w * terms[k] for k, w in weights.items())
    return total, terms


def make_dpo(helix, arch, tmp):
    model = os.path.join(tmp, f"dpo_{arch}.gguf")
    argv = tiny_model(helix, arch, "F32", 13, SMALL, model)
    ref = Ref(model)
    prs = pairs(272, 17)
    w = gguf.GGUFWriter(str(OUT / f"dpo_{arch}.gguf"), "helix-train-reference")
    w.add_string("ref.torch_version", torch.__version__)
    w.add_string("ref.model_args", "\t".join(argv))
    w.add_string("ref.model_fnv1a64", fnv1a64(pathlib.Path(model).read_bytes()))
    w.add_uint32("ref.lora_rank", LORA_RANK)
    w.add_float32("ref.lora_alpha", LORA_ALPHA)
    w.add_float32("ref.beta", DPO_BETA)
    w.add_float32("ref.rm_tau", RM_TAU)
    w.add_tensor("rm.scores", np.asarray([x for sc in RM_SCORES for x in sc], dtype=np.float32))
    for i, (p, c, r) in enumerate(prs):
        for n, a in (("prompt", p), ("chosen", c), ("rejected", r)):
            w.add_tensor(f"pair{i}.{n}", np.asarray(a, dtype=np.int32))
    params = trainable(ref, "lora", 8, True)
    for n, t in params.items():
        w.add_tensor("init." + n, t.detach().numpy().astype(np.float32))
    for case, (weights, eps) in DPO_CASES.items():
        for t in params.values():
            t.grad = None
        total, terms = dpo_objective(ref, prs, weights, eps)
        total.backward()
        w.add_float32(f"ref.{case}.label_smoothing", eps)
        w.add_string(f"ref.{case}.losses", ",".join(f"{k}={v}" for k, v in weights.items()))
        w.add_float64(f"ref.{case}.loss", float(total))
        for k, v in terms.items():
            w.add_float64(f"ref.{case}.term.{k}", float(v))
        for n, t in params.items():
            w.add_tensor(f"grad.{case}.{n}", t.grad.numpy().astype(np.float32))
        print(f"dpo {arch} {case}: loss {float(total):.6f} " + " ".join(f"{k} {float(v):.5f}" for k, v in terms.items()))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    helix = os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix"))
    OUT.mkdir(parents=True, exist_ok=True)
    only = sys.argv[1:]  # optional subset: case or curve names
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ARCHS:
            for case in CASES:
                if not only or case in only:
                    make_case(helix, arch, case, tmp)
        for name in CURVES:
            if not only or name in only:
                make_curve(helix, name, tmp)
        for arch in DPO_ARCHS:
            if not only or f"dpo_{arch}" in only or "dpo" in only:
                make_dpo(helix, arch, tmp)


if __name__ == "__main__":
    sys.exit(main())

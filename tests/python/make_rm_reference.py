#!/usr/bin/env python3
"""PyTorch reference for Helix's reward-model heads (tests/train/test_reward.cpp).

On the tiny random models of make_train_reference.py (written by `helix tiny-model`, read with
gguf-py, the decoder written from the architectures' definitions by that script's Ref), computes
in float64 the reward loss of one packed batch and the gradient of every trainable tensor: three
heads (two response-level, one step-level) r = w·rmsnorm(h; output_norm) + b at given positions,
the Bradley–Terry loss −log σ(r_chosen − r_rejected − margin) on two pairs and the binary
cross-entropy on the logits of three labelled steps, weighted per term; LoRA factors (rank 4,
random A and B) on every projection. The gradient reaches the factors only through the heads.

Writes tests/python/data/rm_ref/<arch>.gguf: the batch, the terms, the initial LoRA factors and
heads, the loss, "grad.<param>" tensors, and the tiny model's command line and FNV-1a hash.

  HELIX_BIN=build/helix python3 tests/python/make_rm_reference.py
(with a Python that has torch and gguf-py, e.g. PYTHONPATH=DIR_WITH_gguf /usr/bin/python3 ...)
Reference outputs committed were produced with torch 1.13.0a0 (Debian 1.13.1+dfsg-4), float64.
"""
import os
import pathlib
import sys
import tempfile

import numpy as np
import torch
import gguf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_train_reference as mtr  # noqa: E402

OUT = mtr.ROOT / "tests" / "python" / "data" / "rm_ref"
HEADS = [("helpful", "response"), ("format", "response"), ("steps", "step")]
MARGIN = 0.5
LENGTHS = [7, 6, 8, 5, 11]  # two pairs (sequences 0/1 and 2/3), one step-level sequence (4)


def make_case(helix, arch, tmp):
    model = os.path.join(tmp, f"{arch}.gguf")
    argv = mtr.tiny_model(helix, arch, "F32", 7, mtr.SMALL, model)
    ref = mtr.Ref(model)
    rng = np.random.default_rng(23)
    tokens, pos, start = [], [], []
    offsets = []
    for n in LENGTHS:
        offsets.append(len(tokens))
        s = len(tokens)
        for i in range(n):
            tokens.append(int(rng.integers(3, 272)))
            pos.append(i)
            start.append(s)
    tokens, pos, start = (np.asarray(a, dtype=np.int32) for a in (tokens, pos, start))
    last = [o + n - 1 for o, n in zip(offsets, LENGTHS)]
    # (head, chosen position, rejected position) and (head, position, label)
    pairs = [(0, last[0], last[1]), (1, last[2], last[3])]
    steps = [(2, offsets[4] + 3, 1.0), (2, offsets[4] + 6, 0.0), (2, last[4], 1.0)]
    pair_w = [1 / 3, 1 / 3]
    step_w = [1 / 9] * 3
    params = mtr.trainable(ref, "lora", 5, True)
    E = ref.E
    heads = {}
    for name, _ in HEADS:
        w = torch.tensor(rng.normal(0, 0.3, E).astype(np.float32).astype(np.float64), requires_grad=True)
        b = torch.tensor([float(np.float32(rng.normal(0, 0.1)))], requires_grad=True)
        heads[name] = (w, b)
        params[f"rm.head.{name}.weight"], params[f"rm.head.{name}.bias"] = w, b
    h = torch.cat([ref.hidden(tokens[s:e]) for s, e in mtr.segments(start)], 0)  # after the final norm

    def score(head, p):
        w, b = heads[HEADS[head][0]]
        return h[p] @ w + b[0]

    sp = torch.nn.functional.softplus
    loss = torch.zeros((), dtype=torch.float64)
    for (hd, c, r), wt in zip(pairs, pair_w):
        loss = loss + wt * sp(-(score(hd, c) - score(hd, r) - MARGIN))
    for (hd, p, y), wt in zip(steps, step_w):
        z = score(hd, p)
        loss = loss + wt * (sp(z) - y * z)
    loss.backward()

    OUT.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(OUT / f"{arch}.gguf"), "helix-rm-reference")
    w.add_string("ref.torch_version", torch.__version__)
    w.add_string("ref.model_args", "\t".join(argv))
    w.add_string("ref.model_fnv1a64", mtr.fnv1a64(pathlib.Path(model).read_bytes()))
    w.add_uint32("ref.lora_rank", mtr.LORA_RANK)
    w.add_float32("ref.lora_alpha", mtr.LORA_ALPHA)
    w.add_float32("ref.margin", MARGIN)
    w.add_float64("ref.loss", float(loss))
    w.add_array("ref.heads", [n for n, _ in HEADS])
    w.add_array("ref.levels", [lv for _, lv in HEADS])
    for n, a in (("tokens", tokens), ("pos", pos), ("start", start)):
        w.add_tensor("batch." + n, a)
    w.add_tensor("terms.pairs", np.asarray(pairs, dtype=np.int32))
    w.add_tensor("terms.pair_w", np.asarray(pair_w, dtype=np.float32))
    w.add_tensor("terms.steps", np.asarray([(hd, p) for hd, p, _ in steps], dtype=np.int32))
    w.add_tensor("terms.step_label", np.asarray([y for _, _, y in steps], dtype=np.float32))
    w.add_tensor("terms.step_w", np.asarray(step_w, dtype=np.float32))
    for n, t in params.items():
        w.add_tensor("init." + n, t.detach().numpy().astype(np.float32))
        w.add_tensor("grad." + n, t.grad.numpy().astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{arch}: loss {float(loss):.6f}, {len(params)} parameters")


def main():
    helix = os.environ.get("HELIX_BIN", str(mtr.ROOT / "build" / "helix"))
    with tempfile.TemporaryDirectory() as tmp:
        for arch in sys.argv[1:] or ["llama", "gemma3"]:
            make_case(helix, arch, tmp)


if __name__ == "__main__":
    sys.exit(main())

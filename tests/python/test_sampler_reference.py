"""The sampling chain (runtime/sampler.h, run through `helix sample`) against two independent
references: llama.cpp's own samplers (through llama-cpp-python's C API) and a float64 numpy
implementation of the same semantics: logit bias, then the
repetition / frequency / presence penalties over the last repeat_last_n tokens (a positive logit
divided by the repetition penalty, a negative one multiplied; count * frequency + presence
subtracted), then top-k, top-p (the smallest prefix of the softmax whose mass reaches top_p),
min-p (tokens whose probability is at least min_p times the largest), then temperature and a
draw. The survivors and their probabilities must agree; the seeded draws must follow those
probabilities (a chi-square test over many draws with fixed seeds, so it cannot flake, and which
is shown to reject a slightly wrong distribution).
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))


def helix_sample(helix_bin, logits, params, history=(), draws=1):
    req = {"logits": [None if not np.isfinite(v) else float(v) for v in logits], "history": list(history),
           "params": params, "draws": draws}
    r = subprocess.run([helix_bin, "sample"], input=json.dumps(req), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    return out["candidates"], out["tokens"]


DEFAULTS = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.0,
            "repeat_last_n": 64, "presence_penalty": 0.0, "frequency_penalty": 0.0}


def reference(logits, params, history=()):
    """[(id, p)] of the tokens the chain keeps, in descending probability."""
    p = dict(DEFAULTS, **params)
    l = np.asarray(logits, dtype=np.float64).copy()
    for tok, b in p.get("logit_bias", {}).items():
        l[int(tok)] += -np.inf if b is None else b
    n = p["repeat_last_n"]
    window = list(history) if n < 0 else list(history)[len(history) - min(n, len(history)):]
    for tok in set(window):
        c = window.count(tok)
        if p["repeat_penalty"] != 1.0:
            l[tok] = l[tok] / p["repeat_penalty"] if l[tok] > 0 else l[tok] * p["repeat_penalty"]
        l[tok] -= c * p["frequency_penalty"] + p["presence_penalty"]
    if p["temperature"] <= 0:
        return [(int(np.argmax(l)), 1.0)]
    ids = [i for i in sorted(range(len(l)), key=lambda i: (-l[i], i)) if np.isfinite(l[i])]
    if p["top_k"] > 0:
        ids = ids[:p["top_k"]]
    probs = np.exp(l[ids] - l[ids[0]])
    probs /= probs.sum()
    if p["top_p"] < 1.0:
        keep = int(np.searchsorted(np.cumsum(probs), p["top_p"]) + 1)
        ids, probs = ids[:keep], probs[:keep]
    if p["min_p"] > 0:
        keep = probs >= probs[0] * p["min_p"]
        ids = [i for i, k in zip(ids, keep) if k]
    q = np.exp((l[ids] - l[ids[0]]) / p["temperature"])
    return list(zip(ids, q / q.sum()))


def logits_row(seed, n=200, spread=4.0):
    return np.random.default_rng(seed).normal(0.0, spread, n).astype(np.float32)


HISTORY = [5, 9, 9, 9, 17, 3, 42, 42, 100, 5, 150, 199, 0, 0, 0]
CASES = {
    "defaults": ({}, ()),
    "top_k": ({"top_k": 7, "top_p": 1.0, "min_p": 0.0, "temperature": 1.3}, ()),
    "top_p": ({"top_k": 0, "top_p": 0.7, "min_p": 0.0, "temperature": 0.6}, ()),
    "min_p": ({"top_k": 0, "top_p": 1.0, "min_p": 0.2, "temperature": 1.0}, ()),
    "all_cuts": ({"top_k": 30, "top_p": 0.9, "min_p": 0.02, "temperature": 1.7}, ()),
    "penalties": ({"repeat_penalty": 1.3, "frequency_penalty": 0.4, "presence_penalty": 0.6, "repeat_last_n": 10,
                   "top_k": 0, "top_p": 1.0, "min_p": 0.01}, HISTORY),
    "penalties_all_history": ({"repeat_penalty": 0.8, "frequency_penalty": -0.5, "repeat_last_n": -1}, HISTORY),
    "logit_bias": ({"logit_bias": {"3": 13.0, "103": None, "150": -2.5}, "top_k": 0, "min_p": 0.0}, ()),
    "greedy_with_bias": ({"temperature": 0.0, "logit_bias": {"11": 20.0}}, ()),
}


def llama_cpp_chain(logits, params, history=()):
    """[(id, p)] after llama.cpp's samplers in the chain's order (logit bias, penalties, top-k,
    top-p, min-p, temperature), probabilities by softmax over what they keep."""
    import ctypes
    import llama_cpp as L
    p = dict(DEFAULTS, **params)
    n = len(logits)
    data = (L.llama_token_data * n)(*[L.llama_token_data(i, float(v), 0.0) for i, v in enumerate(logits)])
    arr = L.llama_token_data_array(ctypes.cast(data, L.llama_token_data_p), n, -1, False)
    chain = []
    bias = p.get("logit_bias", {})
    if bias:
        lb = (L.llama_logit_bias * len(bias))(*[L.llama_logit_bias(int(t), -math.inf if b is None else b)
                                                for t, b in bias.items()])
        chain.append(L.llama_sampler_init_logit_bias(n, len(bias), lb))
    last_n = len(history) if p["repeat_last_n"] < 0 else p["repeat_last_n"]
    pen = L.llama_sampler_init_penalties(n, last_n, p["repeat_penalty"], p["frequency_penalty"], p["presence_penalty"])
    for t in history:
        L.llama_sampler_accept(pen, t)
    chain.append(pen)
    if p["top_k"] > 0:
        chain.append(L.llama_sampler_init_top_k(p["top_k"]))
    chain += [L.llama_sampler_init_top_p(p["top_p"], 1), L.llama_sampler_init_min_p(p["min_p"], 1),
              L.llama_sampler_init_temp(p["temperature"])]
    for smpl in chain:
        L.llama_sampler_apply(smpl, ctypes.byref(arr))
    kept = [(arr.data[i].id, arr.data[i].logit) for i in range(arr.size) if math.isfinite(arr.data[i].logit)]
    for smpl in chain:
        L.llama_sampler_free(smpl)
    kept.sort(key=lambda c: (-c[1], c[0]))
    q = np.exp(np.array([c[1] for c in kept], dtype=np.float64) - kept[0][1])
    return list(zip([c[0] for c in kept], q / q.sum()))


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("ref_name,ref_fn,tol", [("numpy", reference, 2e-6), ("llama.cpp", llama_cpp_chain, 1e-5)])
def test_chain_matches_reference(helix_bin, case, ref_name, ref_fn, tol):
    params, history = CASES[case]
    logits = logits_row(list(CASES).index(case))
    cands, _ = helix_sample(helix_bin, logits, params, history)
    ref = ref_fn(logits, params, history)
    assert [c[0] for c in cands] == [r[0] for r in ref], f"{case}: the kept tokens differ from {ref_name}'s"
    err = np.max(np.abs(np.array([c[1] for c in cands]) - np.array([r[1] for r in ref])))
    assert err < tol, f"{case}: probabilities differ from {ref_name}'s by {err:.2e}"
    if case == "logit_bias":
        assert 103 not in [c[0] for c in cands] and cands[0][0] == 3  # the top token banned, token 3 lifted to the top


def chi2_stat(tokens, dist):
    """Pearson's statistic of the draws against {id: p}; bins with expected counts under 5 are
    pooled, as are tokens outside the distribution (which makes any of them count heavily)."""
    n = len(tokens)
    counts = {}
    for t in tokens:
        counts[t] = counts.get(t, 0) + 1
    obs, exp = [], []
    pooled_o = sum(c for t, c in counts.items() if t not in dist)
    pooled_e = 0.0
    for t, p in dist.items():
        if n * p >= 5:
            obs.append(counts.get(t, 0))
            exp.append(n * p)
        else:
            pooled_o += counts.get(t, 0)
            pooled_e += n * p
    if pooled_e > 0 or pooled_o > 0:
        obs.append(pooled_o)
        exp.append(max(pooled_e, 1e-9))
    obs, exp = np.array(obs, float), np.array(exp)
    return float(np.sum((obs - exp) ** 2 / exp)), len(obs) - 1


def chi2_critical(df, z=3.7190):
    """Upper quantile of chi-square (z = 3.719: p = 1e-4) by the Wilson-Hilferty approximation."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


@pytest.mark.parametrize("case", ["defaults", "top_p", "penalties", "logit_bias"])
def test_seeded_draws_follow_the_distribution(helix_bin, case):
    params, history = CASES[case]
    logits = logits_row(list(CASES).index(case))
    n = 20000
    ref = dict(reference(logits, params, history))
    for seed in (1, 2, 3):
        _, tokens = helix_sample(helix_bin, logits, dict(params, seed=seed), history, draws=n)
        assert set(tokens) <= set(ref), f"{case}: drew a token the chain removes"
        stat, df = chi2_stat(tokens, ref)
        assert stat < chi2_critical(df), f"{case} seed {seed}: chi-square {stat:.1f} >= {chi2_critical(df):.1f} (df {df})"
    # The test has the power to see a slightly wrong distribution: the same draws against the
    # chain at a 10% higher temperature are rejected.
    hotter = dict(params, temperature=dict(DEFAULTS, **params)["temperature"] * 1.1)
    wrong = dict(reference(logits, hotter, history))
    stat, df = chi2_stat(tokens, wrong)
    assert stat > chi2_critical(df), f"{case}: chi-square cannot tell a 10% temperature change ({stat:.1f})"


def test_seed_reproducible_and_distinct(helix_bin):
    logits = logits_row(5)
    _, a = helix_sample(helix_bin, logits, {"seed": 9}, draws=200)
    _, b = helix_sample(helix_bin, logits, {"seed": 9}, draws=200)
    _, c = helix_sample(helix_bin, logits, {"seed": 10}, draws=200)
    assert a == b
    assert a != c

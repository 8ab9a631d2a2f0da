"""Independent numpy reference of the decoder architectures Helix runs (llama, qwen2, gemma3,
ernie4_5), reading a GGUF file with gguf-py. Written from the architectures' published
definitions (Hugging Face modeling code and the GGUF conventions: ggml axis order, Gemma norm
weights stored with the +1 already folded in), in float64 so that it is the accurate side of every
comparison. Used by tests/python/test_model_reference.py; not part of Helix.
"""
import math

import numpy as np
import gguf
from gguf.quants import dequantize


class RefModel:
    def __init__(self, path):
        self.reader = gguf.GGUFReader(path)
        self.fields = self.reader.fields
        self.arch = self._get("general.architecture")
        a = self.arch
        self.n_embd = self._get(f"{a}.embedding_length")
        self.n_layer = self._get(f"{a}.block_count")
        self.n_ff = self._get(f"{a}.feed_forward_length")
        self.n_head = self._get(f"{a}.attention.head_count")
        self.n_head_kv = self._get(f"{a}.attention.head_count_kv", self.n_head)
        self.head_dim = self._get(f"{a}.attention.key_length", self.n_embd // self.n_head)
        self.n_rot = self._get(f"{a}.rope.dimension_count", self.head_dim)
        self.eps = self._get(f"{a}.attention.layer_norm_rms_epsilon")
        self.rope_base = self._get(f"{a}.rope.freq_base", 10000.0)
        # RoPE scaling (Hugging Face's rope_scaling, as GGUF carries it): linear or YaRN.
        self.rope_type = self._get(f"{a}.rope.scaling.type", "linear")
        factor = self._get(f"{a}.rope.scaling.factor", 1.0) or 1.0
        self.rope_scale = 1.0 if self.rope_type == "none" else 1.0 / factor
        yarn = self.rope_type == "yarn"
        self.yarn_ext = self._get(f"{a}.rope.scaling.yarn_ext_factor", 1.0 if yarn else 0.0)
        self.yarn_beta_fast = self._get(f"{a}.rope.scaling.yarn_beta_fast", 32.0)
        self.yarn_beta_slow = self._get(f"{a}.rope.scaling.yarn_beta_slow", 1.0)
        self.yarn_orig_ctx = self._get(f"{a}.rope.scaling.original_context_length",
                                       self._get(f"{a}.context_length", 4096))
        self.rope_attn = self._get(f"{a}.rope.scaling.attn_factor", 1.0)
        self.yarn_attn = self._get(f"{a}.rope.scaling.yarn_attn_factor", 1.0)
        self.n_swa = self._get(f"{a}.attention.sliding_window", 0)
        self.w = {}
        for t in self.reader.tensors:
            arr = dequantize(t.data, t.tensor_type)
            shape = [int(x) for x in reversed(t.shape)]  # numpy order: outermost first
            self.w[t.name] = np.asarray(arr, dtype=np.float64).reshape(shape)

    def _get(self, key, default=None):
        f = self.fields.get(key)
        if f is None:
            if default is None:
                raise KeyError(key)
            return default
        v = f.contents()
        return v

    # building blocks --------------------------------------------------------------------------
    def rmsnorm(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, pos, base, scale, neox, freq_factors=None):
        """x: [n_tok, n_heads, head_dim]; rotates the first n_rot dims."""
        n_rot = self.n_rot
        half = n_rot // 2
        i = np.arange(half, dtype=np.float64)
        inv = base ** (-i * 2.0 / n_rot)
        if freq_factors is not None:
            inv = inv / freq_factors
        mscale = self.yarn_attn * self.rope_attn
        if self.yarn_ext:
            # YaRN (Peng et al. 2023; transformers' _compute_yarn_parameters): pairs that turn
            # more than beta_fast times over the original context keep their frequency, those
            # that turn fewer than beta_slow times are interpolated, a linear ramp in between;
            # cos and sin get 0.1 ln(factor) + 1.
            def corr_dim(rot):
                return n_rot * math.log(self.yarn_orig_ctx / (rot * 2 * math.pi)) / (2 * math.log(base))
            lo = max(math.floor(corr_dim(self.yarn_beta_fast)), 0)
            hi = min(math.ceil(corr_dim(self.yarn_beta_slow)), n_rot - 1)
            ramp = np.clip((i - lo) / max(hi - lo, 0.001), 0.0, 1.0)
            extrap = (1.0 - ramp) * self.yarn_ext
            inv = inv * scale * (1.0 - extrap) + inv * extrap
            factor = 1.0 / scale
            mscale = self.rope_attn * (0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0)
            scale = 1.0
        theta = np.asarray(pos, dtype=np.float64)[:, None] * scale * inv[None, :]  # [n_tok, half]
        c = mscale * np.cos(theta)[:, None, :]
        s = mscale * np.sin(theta)[:, None, :]
        out = x.copy()
        if neox:
            a, b = x[..., :half], x[..., half:n_rot]
            out[..., :half] = a * c - b * s
            out[..., half:n_rot] = a * s + b * c
        else:
            a, b = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
            out[..., 0:n_rot:2] = a * c - b * s
            out[..., 1:n_rot:2] = a * s + b * c
        return out

    def attention(self, q, k, v, scale, window):
        """q: [T, H, D], k/v: [T, Hkv, D]; causal, optional sliding window (pos_q - pos_k < window)."""
        T = q.shape[0]
        group = self.n_head // self.n_head_kv
        out = np.zeros((T, self.n_head, v.shape[-1]))
        i = np.arange(T)[:, None]
        j = np.arange(T)[None, :]
        mask = j <= i
        if window:
            mask &= (i - j) < window
        for h in range(self.n_head):
            kh = k[:, h // group, :]
            vh = v[:, h // group, :]
            s = (q[:, h, :] @ kh.T) * scale
            s = np.where(mask, s, -np.inf)
            s = s - s.max(axis=-1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(axis=-1, keepdims=True)
            out[:, h, :] = p @ vh
        return out

    @staticmethod
    def gelu_tanh(x):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    @staticmethod
    def silu(x):
        return x / (1.0 + np.exp(-x))

    def lin(self, name, x):
        y = x @ self.w[name + ".weight"].T
        b = self.w.get(name + ".bias")
        return y if b is None else y + b

    # forward ------------------------------------------------------------------------------------
    def forward(self, tokens):
        """Logits [n_tok, n_vocab] for one sequence starting at position 0."""
        w = self.w
        gemma = self.arch == "gemma3"
        neox = self.arch in ("qwen2", "gemma3")
        x = w["token_embd.weight"][np.asarray(tokens)]
        if gemma:
            x = x * math.sqrt(self.n_embd)
        T = len(tokens)
        pos = np.arange(T)
        ff = w.get("rope_freqs.weight")
        for il in range(self.n_layer):
            p = f"blk.{il}."
            h = self.rmsnorm(x, w[p + "attn_norm.weight"])
            q = self.lin(p + "attn_q", h).reshape(T, self.n_head, self.head_dim)
            k = self.lin(p + "attn_k", h).reshape(T, self.n_head_kv, self.head_dim)
            v = self.lin(p + "attn_v", h).reshape(T, self.n_head_kv, self.head_dim)
            base, scale, window = self.rope_base, self.rope_scale, 0
            if gemma:
                q = self.rmsnorm(q, w[p + "attn_q_norm.weight"])
                k = self.rmsnorm(k, w[p + "attn_k_norm.weight"])
                if self.n_swa and il % 6 < 5:  # five sliding-window layers, then one global
                    base, scale, window = 10000.0, 1.0, self.n_swa
            q = self.rope(q, pos, base, scale, neox, ff)
            k = self.rope(k, pos, base, scale, neox, ff)
            a = self.attention(q, k, v, 1.0 / math.sqrt(self.head_dim), window)
            a = self.lin(p + "attn_output", a.reshape(T, -1))
            if gemma:
                a = self.rmsnorm(a, w[p + "post_attention_norm.weight"])
            x = x + a
            h = self.rmsnorm(x, w[p + "ffn_norm.weight"])
            g = self.lin(p + "ffn_gate", h)
            u = self.lin(p + "ffn_up", h)
            act = self.gelu_tanh(g) if gemma else self.silu(g)
            f = self.lin(p + "ffn_down", act * u)
            if gemma:
                f = self.rmsnorm(f, w[p + "post_ffw_norm.weight"])
            x = x + f
        x = self.rmsnorm(x, w["output_norm.weight"])
        out_w = w.get("output.weight", w["token_embd.weight"])
        return x @ out_w.T

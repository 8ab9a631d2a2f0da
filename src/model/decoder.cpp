#include "model/decoder.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "model/attention.h"
#include "quant/quant.h"

namespace helix::model {

Decoder::Decoder(std::shared_ptr<const gguf::GGUFFile> f, HParams hp) : Model(std::move(f), std::move(hp)) {}

// Loading ----------------------------------------------------------------------------------------

Tensor Decoder::optional(const std::string& name, std::initializer_list<int64_t> ne) const {
  const gguf::TensorInfo* info = file_->find_tensor(name);
  if (!info) return Tensor();
  int i = 0;
  for (int64_t want : ne) {
    HELIX_CHECK(info->ne[static_cast<size_t>(i)] == want, "tensor '", name, "' in '", file_->path(),
                "' has dimension ", i, " = ", info->ne[static_cast<size_t>(i)], ", but the hyper-parameters say ", want);
    ++i;
  }
  HELIX_CHECK(info->n_dims <= static_cast<int>(ne.size()), "tensor '", name, "' has ", info->n_dims,
              " dimensions, expected ", ne.size());
  if (ne.size() >= 2)
    HELIX_CHECK(kernels::matmul_supports(info->type) || quant::can_dequantize(info->type), "tensor '",
                name, "' has type ", dtype_name(info->type), ", which Helix cannot compute with yet");
  return file_->tensor(*info);
}

Tensor Decoder::weight(const std::string& name, std::initializer_list<int64_t> ne) const {
  Tensor t = optional(name, ne);
  HELIX_CHECK(t.data(), "model file '", file_->path(), "' lacks the tensor '", name, "' that a ", hp_.arch,
              " model needs");
  return t;
}

void Decoder::load_standard(const LoadOptions& o) {
  const int64_t E = hp_.n_embd, V = hp_.n_vocab, Q = hp_.n_embd_q(), KV = hp_.n_embd_kv(), F = hp_.n_ff;
  const gguf::TensorInfo* emb = file_->find_tensor("token_embd.weight");
  HELIX_CHECK(emb, "model file '", file_->path(), "' lacks the tensor 'token_embd.weight'");
  if (V == 0) hp_.n_vocab = emb->ne[1];
  tok_embd_ = weight("token_embd.weight", {E, hp_.n_vocab});
  HELIX_CHECK(quant::can_dequantize(tok_embd_.dtype()), "token_embd.weight has type ",
              dtype_name(tok_embd_.dtype()), ", which Helix cannot read yet");
  output_norm_ = weight("output_norm.weight", {E});
  output_ = optional("output.weight", {E, hp_.n_vocab});
  if (!output_.data()) output_ = tok_embd_;  // tied embeddings
  layers_.resize(static_cast<size_t>(hp_.n_layer));
  for (int64_t il = 0; il < hp_.n_layer; ++il) {
    LayerWeights& L = layers_[static_cast<size_t>(il)];
    const std::string p = "blk." + std::to_string(il) + ".";
    L.attn_norm = weight(p + "attn_norm.weight", {E});
    L.wq = weight(p + "attn_q.weight", {E, Q});
    L.wk = weight(p + "attn_k.weight", {E, KV});
    L.wv = weight(p + "attn_v.weight", {E, KV});
    L.wo = weight(p + "attn_output.weight", {Q, E});
    if (o.qkv_bias || o.maybe_qkv_bias) {
      auto get = [&](const std::string& n, int64_t d) { return o.qkv_bias ? weight(n, {d}) : optional(n, {d}); };
      L.bq = get(p + "attn_q.bias", Q);
      L.bk = get(p + "attn_k.bias", KV);
      L.bv = get(p + "attn_v.bias", KV);
    }
    L.bo = optional(p + "attn_output.bias", {E});
    if (o.qk_norm) {
      L.q_norm = weight(p + "attn_q_norm.weight", {hp_.head_dim});
      L.k_norm = weight(p + "attn_k_norm.weight", {hp_.head_dim});
    }
    L.ffn_norm = weight(p + "ffn_norm.weight", {E});
    L.w_gate = weight(p + "ffn_gate.weight", {E, F});
    L.w_up = weight(p + "ffn_up.weight", {E, F});
    L.w_down = weight(p + "ffn_down.weight", {F, E});
    if (o.post_norms) {
      L.post_attn_norm = weight(p + "post_attention_norm.weight", {E});
      L.post_ffn_norm = weight(p + "post_ffw_norm.weight", {E});
    }
  }
}

// Building blocks --------------------------------------------------------------------------------

void Decoder::ensure_arena(int64_t n, int64_t n_out) {
  const int64_t E = hp_.n_embd, Q = hp_.n_embd_q(), KV = hp_.n_embd_kv(), F = hp_.n_ff;
  const int64_t floats = n * (3 * E + 2 * Q + 2 * KV + 2 * F + E) + 2 * E * n_out;
  const size_t bytes = static_cast<size_t>(floats) * 4 + 64 * 32;
  if (arena_.capacity() < bytes) arena_ = Arena(bytes);
  arena_.reset();
}

Tensor Decoder::scratch(int64_t rows, int64_t cols) { return arena_.alloc(DType::F32, {rows, cols}); }

void Decoder::rms_norm(const Tensor& x, const Tensor& w, Tensor& out) const {
  const int64_t d = w.ne(0);
  const int64_t n = x.numel() / d;
  const float* wp = w.data_as<float>();
  const float* xp = x.data_as<float>();
  float* op = out.data_as<float>();
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = xp + r * d;
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(d) + hp_.norm_eps));
    float* orow = op + r * d;
    for (int64_t i = 0; i < d; ++i) orow[i] = xr[i] * scale * wp[i];
  }
}

void Decoder::linear(const Tensor& w, const Tensor& bias, const Tensor& x, Tensor& y) const {
  kernels::matmul(w, x, y);
  if (!bias.data()) return;
  const int64_t d = y.ne(0);
  const float* b = bias.data_as<float>();
  float* yp = y.data_as<float>();
  for (int64_t c = 0; c < y.ne(1); ++c)
    for (int64_t i = 0; i < d; ++i) yp[c * d + i] += b[i];
}

void Decoder::add_inplace(Tensor& x, const Tensor& y) {
  float* a = x.data_as<float>();
  const float* b = y.data_as<float>();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) a[i] += b[i];
}

namespace {

// Rotates the first n_rot dims of each of n_heads vectors of size hd at position pos.
void rope_heads(float* x, int64_t n_heads, int64_t hd, int64_t n_rot, RopeStyle style, const float* cs) {
  const int64_t half = n_rot / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * hd;
    for (int64_t i = 0; i < half; ++i) {
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const int64_t a = style == RopeStyle::Neox ? i : 2 * i;
      const int64_t b = style == RopeStyle::Neox ? i + half : 2 * i + 1;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace

void Decoder::attention(int il, const Batch& batch, Tensor& q, Tensor& k, const Tensor& v, Tensor& out,
                        KVCache& kv, float rope_base, float rope_scale) const {
  const int64_t n = batch.size(), hd = hp_.head_dim, nh = hp_.n_head, nkv = hp_.n_head_kv;
  const int64_t group = nh / nkv, half = hp_.n_rot / 2;
  const AttnKernels& ak = attn_kernels();
  std::vector<float> cs(static_cast<size_t>(2 * half));
  for (int64_t t = 0; t < n; ++t) {
    const double p = static_cast<double>(batch.pos[static_cast<size_t>(t)]) * rope_scale;
    for (int64_t i = 0; i < half; ++i) {
      const double theta = p * std::pow(static_cast<double>(rope_base), -2.0 * static_cast<double>(i) / static_cast<double>(hp_.n_rot));
      cs[static_cast<size_t>(2 * i)] = static_cast<float>(std::cos(theta));
      cs[static_cast<size_t>(2 * i + 1)] = static_cast<float>(std::sin(theta));
    }
    rope_heads(q.data_as<float>() + t * nh * hd, nh, hd, hp_.n_rot, hp_.rope_style, cs.data());
    rope_heads(k.data_as<float>() + t * nkv * hd, nkv, hd, hp_.n_rot, hp_.rope_style, cs.data());
    const int seq = batch.seq[static_cast<size_t>(t)];
    const int64_t pos = batch.pos[static_cast<size_t>(t)];
    ak.f32_to_f16(k.data_as<float>() + t * nkv * hd, kv.k(il, seq, pos), nkv * hd);
    ak.f32_to_f16(v.data_as<float>() + t * nkv * hd, kv.v(il, seq, pos), nkv * hd);
  }
  const float scale = hp_.attn_scale > 0 ? hp_.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd));
  ThreadPool::global().parallel_for(n * nkv, 1, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> scores;
    for (int64_t idx = b; idx < e; ++idx) {
      const int64_t t = idx / nkv, g = idx % nkv;
      const int seq = batch.seq[static_cast<size_t>(t)];
      const int64_t pos = batch.pos[static_cast<size_t>(t)];
      const int64_t lo = kv.first_visible(il, pos);
      const int64_t cnt = pos - lo + 1;
      if (static_cast<int64_t>(scores.size()) < cnt) scores.resize(static_cast<size_t>(cnt));
      for (int64_t hi = 0; hi < group; ++hi) {
        const int64_t h = g * group + hi;
        const float* qh = q.data_as<float>() + (t * nh + h) * hd;
        float mx = -INFINITY;
        for (int64_t j = 0; j < cnt; ++j) {
          const float s = ak.dot_f16(qh, kv.k(il, seq, lo + j) + g * hd, hd) * scale;
          scores[static_cast<size_t>(j)] = s;
          mx = std::max(mx, s);
        }
        float sum = 0;
        for (int64_t j = 0; j < cnt; ++j) sum += (scores[static_cast<size_t>(j)] = std::exp(scores[static_cast<size_t>(j)] - mx));
        float* oh = out.data_as<float>() + (t * nh + h) * hd;
        std::fill(oh, oh + hd, 0.0f);
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < cnt; ++j)
          ak.axpy_f16(scores[static_cast<size_t>(j)] * inv, kv.v(il, seq, lo + j) + g * hd, oh, hd);
      }
    }
  });
}

void Decoder::gated_ffn(const LayerWeights& L, const Tensor& x, Tensor& out, Act act) {
  const int64_t n = x.ne(1);
  const size_t m = arena_.mark();
  Tensor gate = scratch(hp_.n_ff, n), up = scratch(hp_.n_ff, n);
  kernels::matmul(L.w_gate, x, gate);
  kernels::matmul(L.w_up, x, up);
  float* g = gate.data_as<float>();
  const float* u = up.data_as<float>();
  const int64_t total = gate.numel();
  if (act == Act::Silu) {
    for (int64_t i = 0; i < total; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  } else {
    constexpr float kC = 0.7978845608028654f;  // sqrt(2/pi)
    for (int64_t i = 0; i < total; ++i) {
      const float v = g[i];
      g[i] = 0.5f * v * (1.0f + std::tanh(kC * (v + 0.044715f * v * v * v))) * u[i];
    }
  }
  kernels::matmul(L.w_down, gate, out);
  arena_.release(m);
}

void Decoder::llama_style_layer(int il, Tensor& x, const Batch& batch, KVCache& kv) {
  const LayerWeights& L = layers_[static_cast<size_t>(il)];
  const int64_t n = batch.size();
  Tensor h = scratch(hp_.n_embd, n);
  rms_norm(x, L.attn_norm, h);
  Tensor q = scratch(hp_.n_embd_q(), n), k = scratch(hp_.n_embd_kv(), n), v = scratch(hp_.n_embd_kv(), n);
  linear(L.wq, L.bq, h, q);
  linear(L.wk, L.bk, h, k);
  linear(L.wv, L.bv, h, v);
  Tensor a = scratch(hp_.n_embd_q(), n);
  attention(il, batch, q, k, v, a, kv, hp_.rope_base, hp_.rope_scale);
  linear(L.wo, L.bo, a, h);
  add_inplace(x, h);
  rms_norm(x, L.ffn_norm, h);
  Tensor f = scratch(hp_.n_embd, n);
  gated_ffn(L, h, f, Act::Silu);
  add_inplace(x, f);
}

// Forward ------------------------------------------------------------------------------------------

void Decoder::forward(const Batch& batch, KVCache& kv, std::vector<float>& logits) {
  const int64_t n = batch.size();
  HELIX_CHECK(n > 0, "empty batch");
  const int64_t n_out = batch.n_logits();
  const int64_t E = hp_.n_embd, V = hp_.n_vocab;

  // Reserve cache room per sequence.
  std::map<int, std::pair<int64_t, int64_t>> span;  // seq -> (min pos, max pos + 1)
  for (int64_t t = 0; t < n; ++t) {
    const int32_t tok = batch.tokens[static_cast<size_t>(t)];
    HELIX_CHECK(tok >= 0 && tok < V, "token id ", tok, " is outside the vocabulary (", V, ")");
    const int s = batch.seq[static_cast<size_t>(t)];
    const int64_t p = batch.pos[static_cast<size_t>(t)];
    auto [it, fresh] = span.try_emplace(s, p, p + 1);
    if (!fresh) it->second = {std::min(it->second.first, p), std::max(it->second.second, p + 1)};
  }
  for (const auto& [s, se] : span) {
    HELIX_CHECK(se.first <= kv.seq_len(s), "sequence ", s, " continues at position ", se.first,
                " but its cache holds only ", kv.seq_len(s), " positions");
    kv.prepare(s, se.second, se.first);
  }

  ensure_arena(n, n_out);
  Tensor x = scratch(E, n);
  const float es = embedding_scale();
  for (int64_t t = 0; t < n; ++t) {
    float* xt = x.data_as<float>() + t * E;
    quant::dequantize_row(tok_embd_.dtype(), tok_embd_.row(batch.tokens[static_cast<size_t>(t)]), xt, E);
    if (es != 1.0f)
      for (int64_t i = 0; i < E; ++i) xt[i] *= es;
  }
  for (int il = 0; il < hp_.n_layer; ++il) {
    const size_t m = arena_.mark();  // a layer's scratch lives only while it runs
    layer(il, x, batch, kv);
    arena_.release(m);
  }

  Tensor xo = scratch(E, std::max<int64_t>(n_out, 1));
  int64_t c = 0;
  for (int64_t t = 0; t < n; ++t)
    if (batch.want_logits[static_cast<size_t>(t)])
      std::copy_n(x.data_as<float>() + t * E, E, xo.data_as<float>() + (c++) * E);
  logits.resize(static_cast<size_t>(n_out * V));
  if (n_out > 0) {
    Tensor xn = scratch(E, n_out);
    Tensor xo_n = xo.view_rows(0, n_out);
    rms_norm(xo_n, output_norm_, xn);
    Tensor y = Tensor::wrap(nullptr, logits.data(), DType::F32, Shape{V, n_out, 1, 1}, 2);
    kernels::matmul(output_, xn, y);
    if (hp_.final_logit_softcap > 0) {
      const float cap = hp_.final_logit_softcap;
      for (auto& l : logits) l = std::tanh(l / cap) * cap;
    }
  }
  for (const auto& [s, se] : span) kv.commit(s, se.second);
}

}  // namespace helix::model

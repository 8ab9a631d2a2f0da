#include "model/decoder.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/packed.h"
#include "kernels/profile.h"
#include "model/attention.h"
#include "model/row_ranges.h"
#include "quant/quant.h"

namespace helix::model {

namespace {

// "matmul Q5_0" etc.: profile categories per weight type (static strings).
const char* matmul_category(DType t) {
  static std::map<DType, std::string> names;
  static std::mutex mu;
  std::lock_guard<std::mutex> lk(mu);
  auto it = names.find(t);
  if (it == names.end()) it = names.emplace(t, "matmul " + std::string(dtype_name(t))).first;
  return it->second.c_str();
}

}  // namespace

Decoder::Decoder(std::shared_ptr<const gguf::GGUFFile> f, HParams hp) : Model(std::move(f), std::move(hp)) {}

// Loading ----------------------------------------------------------------------------------------

Tensor Decoder::optional(const std::string& name, std::initializer_list<int64_t> ne) const {
  const gguf::TensorInfo* info = file_->find_tensor(name);
  if (!info) return Tensor();
  loaded_.push_back(name);
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
  check_no_unused_tensors(*file_, loaded_);
  pack_weights();
}

void Decoder::pack_weights() {
  // The kernels read the packed copy from now on: drop the original's pages from this process's
  // memory as they are packed (a file mapping refaults them from the page cache if they are read
  // again, e.g. the rows of a tied embedding).
  const kernels::ReleaseFn release = drop_pages;
  std::vector<const Tensor*> todo;
  for (const LayerWeights& L : layers_)
    for (const Tensor* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) todo.push_back(t);
  todo.push_back(&output_);
  // One huge-page region for all the copies (64-byte aligned slices).
  size_t total = 0;
  for (const Tensor* t : todo) total += (kernels::packed_bytes(*t) + 63) / 64 * 64;
  if (total == 0) return;
  std::shared_ptr<uint8_t> mem = kernels::alloc_packed_memory(total);
  size_t at = 0;
  for (const Tensor* t : todo) {
    const size_t bytes = kernels::packed_bytes(*t);
    if (bytes == 0) continue;
    const bool mapped = dynamic_cast<const MappedFile*>(t->storage().get()) != nullptr;
    auto h = kernels::pack_weight(*t, mapped ? release : kernels::ReleaseFn(), mem ? mem.get() + at : nullptr, mem);
    if (h) packed_.push_back(h);
    at += (bytes + 63) / 64 * 64;
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
  prof::Scope ps("rms_norm");
  const int64_t d = w.ne(0);
  const int64_t n = x.numel() / d;
  const float* wp = w.data_as<float>();
  const float* xp = x.data_as<float>();
  float* op = out.data_as<float>();
  const auto f = kernels::row_ops().rmsnorm;
  const float eps = hp_.norm_eps;
  for_row_ranges(n, d, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) f(xp + r * d, wp, op + r * d, d, eps);
  });
}

void Decoder::project(LoraAt at, const Tensor* const* ws, Tensor* const* ys, int count, const Tensor& x,
                      const int* col_set) const {
  const int64_t n = x.ne(1);
  const bool decode = n <= kernels::kMaxCols;
  const char* category = !prof::enabled()              ? nullptr
                         : at.slot == LoraSlot::Head   ? "output_head"
                         : at.slot == LoraSlot::Qkv    ? "matmul q/k/v"
                         : at.slot == LoraSlot::GateUp ? "matmul gate/up"
                                                       : matmul_category(ws[0]->dtype());
  // The adapter factors of each decode column (null: none for this slot).
  const LoraGroup* groups[kernels::kMaxCols] = {};
  bool adapted = false;
  if (!lora_sets_.empty())
    for (int64_t t = 0; t < n && t < kernels::kMaxCols; ++t) adapted |= (groups[t] = lora_group(at, col_set[t])) != nullptr;
  prof::Scope ps(category);
  if (!decode) {
    for (int i = 0; i < count; ++i) kernels::matmul(*ws[i], x, *ys[i]);
    if (!lora_sets_.empty()) lora_columns(at, x, ys, count, col_set);
    return;
  }
  if (!adapted) {
    kernels::matmul_many(ws, ys, count, x);
    return;
  }
  // A·x of every column for the slot's projections at once (u: Rg floats per column), split into
  // tasks of kDownRows rank rows that open the product's parallel region; then each thread adds
  // B's part to the rows it computed.
  const int64_t n_in = x.ne(0);
  int64_t stride = 0;
  for (int64_t t = 0; t < n; ++t) stride = std::max(stride, groups[t] ? groups[t]->down.rank : 0);
  lora_u_.resize(static_cast<size_t>(stride * n));
  float* u = lora_u_.data();
  constexpr int64_t kDownRows = 16;
  const int64_t per_col = (stride + kDownRows - 1) / kDownRows;
  kernels::PreTasks pre{per_col * n, [&](int64_t task) {
                          const int64_t t = task / per_col, j0 = task % per_col * kDownRows;
                          if (!groups[t] || j0 >= groups[t]->down.rank) return;
                          kernels::LoraFactors f = groups[t]->down;
                          f.rank = std::min(f.rank - j0, kDownRows);
                          f.a = static_cast<const uint8_t*>(f.a) + static_cast<size_t>(j0) * dtype_row_bytes(f.type, n_in);
                          kernels::lora_down(f, x.data_as<float>() + t * n_in, n_in, 1, u + t * stride + j0, stride);
                        }};
  struct Ctx {
    const LoraGroup* const* groups;
    int64_t n, stride;
    const float* u;
    int i;
    Tensor* y;
  };
  Ctx ctx[kernels::kMaxMany];
  kernels::RowsDone done[kernels::kMaxMany];
  for (int i = 0; i < count; ++i) {
    ctx[i] = {groups, n, stride, u, i, ys[i]};
    done[i] = [c = &ctx[i]](int64_t r0, int64_t r1) {
      float* y = c->y->data_as<float>();
      const int64_t ys = static_cast<int64_t>(c->y->nb(1) / sizeof(float));
      for (int64_t t = 0; t < c->n; ++t) {
        const LoraGroup* g = c->groups[t];
        if (g && g->up[static_cast<size_t>(c->i)].rank > 0)
          kernels::lora_up(g->up[static_cast<size_t>(c->i)], c->u + t * c->stride + g->u_off[static_cast<size_t>(c->i)],
                           0, 1, r0, r1, y + t * ys, ys);
      }
    };
  }
  kernels::matmul_many(ws, ys, count, x, done, &pre);
}

void Decoder::linear(const Tensor& w, const Tensor& bias, const Tensor& x, Tensor& y, LoraAt at) const {
  const Tensor* ws[1] = {&w};
  Tensor* ys[1] = {&y};
  project(at, ws, ys, 1, x, batch_sets_.data());
  if (bias.data()) kernels::add(y, bias, y);  // the bias row added to every token's row
}

void Decoder::qkv(const LayerWeights& L, const Tensor& x, Tensor& q, Tensor& k, Tensor& v) const {
  const Tensor* ws[3] = {&L.wq, &L.wk, &L.wv};
  Tensor* ys[3] = {&q, &k, &v};
  project({static_cast<int>(&L - layers_.data()), LoraSlot::Qkv}, ws, ys, 3, x, batch_sets_.data());
  for (auto [b, y] : {std::pair<const Tensor*, Tensor*>{&L.bq, &q}, {&L.bk, &k}, {&L.bv, &v}})
    if (b->data()) kernels::add(*y, *b, *y);
}

void Decoder::add_inplace(Tensor& x, const Tensor& y) {
  prof::Scope ps("add");
  float* a = x.data_as<float>();
  const float* b = y.data_as<float>();
  const int64_t d = x.ne(0);
  const auto add = kernels::row_ops().add;
  for_row_ranges(x.numel() / d, d, [&](int64_t r0, int64_t r1) {
    add(a + r0 * d, b + r0 * d, a + r0 * d, (r1 - r0) * d);
  });
}

void Decoder::gated_ffn(const LayerWeights& L, const Tensor& x, Tensor& out, Act act) {
  const int64_t n = x.ne(1);
  const size_t m = arena_.mark();
  Tensor gate = scratch(hp_.n_ff, n), up = scratch(hp_.n_ff, n);
  const int il = static_cast<int>(&L - layers_.data());
  const Tensor* ws[2] = {&L.w_gate, &L.w_up};
  Tensor* ys[2] = {&gate, &up};
  project({il, LoraSlot::GateUp}, ws, ys, 2, x, batch_sets_.data());
  {
    prof::Scope ps("ffn_act");
    float* g = gate.data_as<float>();
    const float* u = up.data_as<float>();
    const int64_t d = hp_.n_ff;
    const auto& ops = kernels::row_ops();
    const auto f = act == Act::Silu ? ops.silu : ops.gelu;
    for_row_ranges(n, d, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        f(g + r * d, g + r * d, d);
        ops.mul(g + r * d, u + r * d, g + r * d, d);
      }
    });
  }
  linear(L.w_down, Tensor(), gate, out, {il, LoraSlot::Down});
  arena_.release(m);
}

void Decoder::llama_style_layer(int il, Tensor& x, const Batch& batch, KVCache& kv) {
  const LayerWeights& L = layers_[static_cast<size_t>(il)];
  const int64_t n = batch.size();
  Tensor h = scratch(hp_.n_embd, n);
  rms_norm(x, L.attn_norm, h);
  Tensor q = scratch(hp_.n_embd_q(), n), k = scratch(hp_.n_embd_kv(), n), v = scratch(hp_.n_embd_kv(), n);
  qkv(L, h, q, k, v);
  Tensor a = scratch(hp_.n_embd_q(), n);
  attention(il, batch, q, k, v, a, kv, hp_.rope_base, hp_.rope_scale);
  linear(L.wo, L.bo, a, h, {il, LoraSlot::AttnOut});
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
  ++forward_id_;
  batch_sets_.resize(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) batch_sets_[static_cast<size_t>(t)] = lora_set_for(batch.seq[static_cast<size_t>(t)]);

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

  const bool profiling = prof::enabled();
  const auto t_pass = profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  if (profiling) prof::set_phase(n > 1 ? prof::Phase::Prefill : prof::Phase::Decode, n);
  ensure_arena(n, n_out);
  Tensor x = scratch(E, n);
  std::optional<prof::Scope> ps(std::in_place, "embed");
  const float es = embedding_scale();
  const kernels::PackedWeight* packed_embd = packed_.empty() ? nullptr : kernels::find_packed(tok_embd_);
  for (int64_t t = 0; t < n; ++t) {
    float* xt = x.data_as<float>() + t * E;
    const int32_t tok = batch.tokens[static_cast<size_t>(t)];
    if (packed_embd)
      kernels::packed_get_row(*packed_embd, tok, xt);
    else
      quant::dequantize_row(tok_embd_.dtype(), tok_embd_.row(tok), xt, E);
  }
  lora_embed(batch, x);  // before the embedding scale, as llama.cpp adds it
  if (es != 1.0f)
    for (float* p = x.data_as<float>(), *e = p + n * E; p < e; ++p) *p *= es;
  ps.reset();
  for (int il = 0; il < hp_.n_layer; ++il) {
    const size_t m = arena_.mark();  // a layer's scratch lives only while it runs
    if (profiling) prof::set_layer(il);
    layer(il, x, batch, kv);
    arena_.release(m);
  }
  if (profiling) prof::set_layer(-1);

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
    std::vector<int> out_sets;  // the adapter set of each logits column
    for (int64_t t = 0; t < n; ++t)
      if (batch.want_logits[static_cast<size_t>(t)]) out_sets.push_back(batch_sets_[static_cast<size_t>(t)]);
    const Tensor* ws[1] = {&output_};
    Tensor* ys[1] = {&y};
    project({-1, LoraSlot::Head}, ws, ys, 1, xn, out_sets.data());
    if (hp_.final_logit_softcap > 0) {
      prof::Scope pc("softcap");
      const float cap = hp_.final_logit_softcap;
      for (auto& l : logits) l = std::tanh(l / cap) * cap;
    }
  }
  for (const auto& [s, se] : span) kv.commit(s, se.second);
  if (profiling)
    prof::add_pass(std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t_pass)
                       .count());
}

}  // namespace helix::model

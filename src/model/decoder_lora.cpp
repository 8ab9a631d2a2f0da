// LoRA at inference for every decoder: y += scale · (alpha / rank) · B·(A·x) on the adapted
// projections (attn_q/k/v/output, ffn_gate/up/down, the output head) whatever the base weight's
// type, and on the token embedding (a token's row gains B·A[:, token]), as llama.cpp applies them
// (src/llama-graph.cpp build_lora_mm and build_inp_embd). The base weights are never touched: the
// update is two thin products beside the base matmul (model/lora_kernels.h), with factors in f16
// when every adapter of the set was stored in 16 bits (LoraAdapter::factor_type; what `helix sft`
// writes), else in f32. An adapter set's adapters are concatenated along the rank with their scales
// folded into B, so several adapters cost one pair of products.
#include <algorithm>
#include <set>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/profile.h"
#include "model/decoder.h"
#include "model/lora_kernels.h"

namespace helix::model {

namespace {

// The concatenated rank of `name` over the uses, and the offset of each use's rows.
int64_t total_rank(const std::vector<LoraUse>& uses, const std::string& name, std::vector<int64_t>& offsets) {
  int64_t r = 0;
  offsets.assign(uses.size(), -1);
  for (size_t u = 0; u < uses.size(); ++u) {
    auto it = uses[u].adapter->weights.find(name);
    if (it == uses[u].adapter->weights.end()) continue;
    offsets[u] = r;
    r += it->second.rank;
  }
  return r;
}

}  // namespace

int Decoder::add_lora_set(const std::vector<LoraUse>& uses) {
  HELIX_CHECK(!uses.empty(), "an adapter set needs at least one LoRA adapter");
  std::set<std::string> names;
  for (const LoraUse& u : uses) {
    HELIX_CHECK(u.adapter, "empty LoRA adapter");
    check_lora(*u.adapter, *file_, u.path);
    for (const auto& [name, p] : u.adapter->weights) names.insert(name);
  }
  // The weights the decoder multiplies with (the only ones an adapter may target, besides the
  // embedding).
  std::set<const void*> applied;
  for (const LayerWeights& L : layers_)
    for (const Tensor* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) applied.insert(t->data());
  applied.insert(output_.data());

  LoraSet set;
  std::vector<int64_t> off;
  bool half = true;  // f16 factors only when no adapter of the set asks for f32
  for (const LoraUse& u : uses) half = half && u.adapter->factor_type != DType::F32;
  for (const std::string& name : names) {
    const int64_t R = total_rank(uses, name, off);
    const LoraPair* first = nullptr;
    for (size_t u = 0; u < uses.size() && !first; ++u)
      if (off[u] >= 0) first = &uses[u].adapter->weights.at(name);
    const int64_t n_in = first->n_in, n_out = first->n_out;
    const bool emb = lora_is_embedding(name);
    std::vector<float> a(static_cast<size_t>(n_in * R));  // emb: n_in rows of R; else R rows of n_in
    Tensor b = Tensor::empty(DType::F32, {R, n_out});
    float* bp = b.data_as<float>();
    for (size_t u = 0; u < uses.size(); ++u) {
      if (off[u] < 0) continue;
      const LoraPair& p = uses[u].adapter->weights.at(name);
      const float s = uses[u].scale * uses[u].adapter->scale(p);
      for (int64_t j = 0; j < p.rank; ++j)
        for (int64_t i = 0; i < n_in; ++i) {
          const float v = p.a[static_cast<size_t>(j * n_in + i)];
          a[static_cast<size_t>(emb ? i * R + off[u] + j : (off[u] + j) * n_in + i)] = v;
        }
      for (int64_t o = 0; o < n_out; ++o)
        for (int64_t j = 0; j < p.rank; ++j) bp[o * R + off[u] + j] = s * p.b[static_cast<size_t>(o * p.rank + j)];
    }
    if (emb) {
      set.embd_a = std::move(a);
      set.embd_b = b;
      continue;
    }
    const void* w = file_->tensor_data(*file_->find_tensor(name));
    HELIX_CHECK(applied.count(w), "LoRA adapter '", uses.front().path, "' adapts '", name,
                "', a tensor Helix does not multiply with (it applies adapters to attn_q/k/v/output, "
                "ffn_gate/up/down, output and token_embd)");
    if (!half) {
      Tensor at = Tensor::empty(DType::F32, {n_in, R});
      std::copy(a.begin(), a.end(), at.data_as<float>());
      set.by_weight[w] = LoraMat{at, b, false};
      continue;
    }
    Tensor a16 = Tensor::empty(DType::F16, {n_in, R}), bt16 = Tensor::empty(DType::F16, {n_out, R});
    uint16_t* ap = a16.data_as<uint16_t>();
    uint16_t* btp = bt16.data_as<uint16_t>();
    for (size_t i = 0; i < a.size(); ++i) ap[i] = f32_to_f16(a[i]);
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t j = 0; j < R; ++j) btp[j * n_out + o] = f32_to_f16(bp[o * R + j]);
    set.by_weight[w] = LoraMat{a16, bt16, true};
  }
  lora_sets_.push_back(std::move(set));
  return static_cast<int>(lora_sets_.size());
}

void Decoder::lora_add(const Tensor& w, const Tensor& x, Tensor& y, const int32_t* col_seq) const {
  if (lora_sets_.empty()) return;
  const int64_t n = x.ne(1);
  const int s0 = lora_set_for(col_seq[0]);
  bool uniform = true;
  for (int64_t t = 1; t < n && uniform; ++t) uniform = lora_set_for(col_seq[t]) == s0;
  if (uniform) {
    lora_apply(w, x, y, s0, nullptr, n);
    return;
  }
  std::vector<int> sets;
  for (int64_t t = 0; t < n; ++t) sets.push_back(lora_set_for(col_seq[t]));
  std::sort(sets.begin(), sets.end());
  sets.erase(std::unique(sets.begin(), sets.end()), sets.end());
  std::vector<int64_t> cols;
  for (const int s : sets) {
    cols.clear();
    for (int64_t t = 0; t < n; ++t)
      if (lora_set_for(col_seq[t]) == s) cols.push_back(t);
    lora_apply(w, x, y, s, cols.data(), static_cast<int64_t>(cols.size()));
  }
}

void Decoder::lora_apply(const Tensor& w, const Tensor& x, Tensor& y, int set, const int64_t* cols,
                         int64_t n_cols) const {
  if (set <= 0 || set > static_cast<int>(lora_sets_.size())) return;
  const auto& by = lora_sets_[static_cast<size_t>(set - 1)].by_weight;
  auto it = by.find(w.data());
  if (it == by.end()) return;
  prof::Scope ps("lora");
  const LoraMat& m = it->second;
  const LoraKernels& K = lora_kernels();
  const int64_t n_in = x.ne(0), n_out = y.ne(0), R = m.a.ne(1);
  const float* xp = x.data_as<float>();
  float* yp = y.data_as<float>();
  lora_tmp_.resize(static_cast<size_t>(R * n_cols));
  float* tmp = lora_tmp_.data();
  // A·x into tmp, then y[o0, o1) += B·tmp, in the factors' type.
  auto a_rows = [&](int64_t j0, int64_t j1, const float* xt, float* t) {
    if (m.half) K.a16(m.a.data_as<uint16_t>() + j0 * n_in, j1 - j0, n_in, xt, t + j0);
    else K.a(m.a.data_as<float>() + j0 * n_in, j1 - j0, n_in, xt, t + j0);
  };
  auto b_rows = [&](int64_t o0, int64_t o1, const float* t, float* yt) {
    if (m.half) K.bt16(m.b.data_as<uint16_t>(), R, n_out, o0, o1, t, yt);
    else K.b(m.b.data_as<float>(), R, o0, o1, t, yt);
  };
  ThreadPool& pool = ThreadPool::global();
  // Multiply-adds below which one thread beats handing the work out: a decode step's products
  // are bound by memory bandwidth and a pool round trip costs more than the second thread's
  // share of a rank-16 product (measured: 6.0 against 9.1 us per product on 2 cores).
  constexpr int64_t kSerial = int64_t{1} << 17;
  if (n_cols == 1) {  // decode: A·x here, then B·tmp over row ranges
    const int64_t t = cols ? cols[0] : 0;
    const float* xt = xp + t * n_in;
    float* yt = yp + t * n_out;
    if (R * (n_in + n_out) < kSerial || pool.size() == 1) {
      a_rows(0, R, xt, tmp);
      b_rows(0, n_out, tmp, yt);
    } else {  // both threads stream the factors
      pool.parallel_for(R, 1, [&](int64_t j0, int64_t j1) { a_rows(j0, j1, xt, tmp); });
      pool.parallel_for(n_out, 256, [&](int64_t o0, int64_t o1) { b_rows(o0, o1, tmp, yt); });
    }
    return;
  }
  auto columns = [&](int64_t c0, int64_t c1) {  // prefill: whole columns
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t t = cols ? cols[c] : c;
      a_rows(0, R, xp + t * n_in, tmp + c * R);
      b_rows(0, n_out, tmp + c * R, yp + t * n_out);
    }
  };
  if (n_cols * R * (n_in + n_out) < kSerial || pool.size() == 1)
    columns(0, n_cols);
  else
    pool.parallel_for(n_cols, 1, columns);
}

const LoraKernels& lora_kernels() {
  static const LoraKernels scalar{lora_a_impl, lora_b_impl, lora_a16_impl, lora_bt16_impl};
  return cpu_features().has_avx2_fma() ? lora_kernels_avx2() : scalar;
}

void Decoder::lora_embed(const Batch& batch, Tensor& x) const {
  if (lora_sets_.empty()) return;
  const int64_t E = x.ne(0);
  for (int64_t t = 0; t < batch.size(); ++t) {
    const int s = lora_set_for(batch.seq[static_cast<size_t>(t)]);
    if (s <= 0 || s > static_cast<int>(lora_sets_.size())) continue;
    const LoraSet& set = lora_sets_[static_cast<size_t>(s - 1)];
    if (set.embd_a.empty()) continue;
    const int64_t R = set.embd_b.ne(0);
    const float* a = set.embd_a.data() + static_cast<size_t>(batch.tokens[static_cast<size_t>(t)]) * R;
    const float* b = set.embd_b.data_as<float>();
    float* xt = x.data_as<float>() + t * E;
    for (int64_t e = 0; e < E; ++e) {
      float acc = 0;
      for (int64_t j = 0; j < R; ++j) acc += b[e * R + j] * a[j];
      xt[e] += acc;
    }
  }
}

}  // namespace helix::model

// LoRA at inference for every decoder: y += scale · (alpha / rank) · B·(A·x) on the adapted
// projections (attn_q/k/v/output, ffn_gate/up/down, the output head) whatever the base weight's
// type, and on the token embedding (a token's row gains B·A[:, token]), as llama.cpp applies them
// (src/llama-graph.cpp build_lora_mm and build_inp_embd). The base weights are never touched: the
// update is two thin f32 matmuls beside the base one. An adapter set's adapters are concatenated
// along the rank with their scales folded into B, so several adapters cost one pair of matmuls.
#include <algorithm>
#include <set>

#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/profile.h"
#include "model/decoder.h"
#include "model/row_ranges.h"

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
    Tensor at = Tensor::empty(DType::F32, {n_in, R});
    std::copy(a.begin(), a.end(), at.data_as<float>());
    set.by_weight[w] = LoraMat{at, b};
  }
  lora_sets_.push_back(std::move(set));
  return static_cast<int>(lora_sets_.size());
}

void Decoder::lora_add(const Tensor& w, const Tensor& x, Tensor& y, const int32_t* col_seq) const {
  if (lora_sets_.empty()) return;
  const int64_t n = x.ne(1), n_in = x.ne(0), n_out = y.ne(0);
  const int s0 = lora_set_for(col_seq[0]);
  bool uniform = true;
  for (int64_t t = 1; t < n && uniform; ++t) uniform = lora_set_for(col_seq[t]) == s0;
  std::vector<int> sets;
  if (uniform) {
    sets.push_back(s0);
  } else {
    for (int64_t t = 0; t < n; ++t) sets.push_back(lora_set_for(col_seq[t]));
    std::sort(sets.begin(), sets.end());
    sets.erase(std::unique(sets.begin(), sets.end()), sets.end());
  }
  const auto add = kernels::row_ops().add;
  for (const int s : sets) {
    if (s <= 0 || s > static_cast<int>(lora_sets_.size())) continue;
    const auto& by = lora_sets_[static_cast<size_t>(s - 1)].by_weight;
    auto it = by.find(w.data());
    if (it == by.end()) continue;
    prof::Scope ps("lora");
    const LoraMat& m = it->second;
    const int64_t R = m.a.ne(1);
    // The columns of this set (all of them when the batch is uniform).
    std::vector<int64_t> cols;
    Tensor xs = x;
    if (!uniform) {
      for (int64_t t = 0; t < n; ++t)
        if (lora_set_for(col_seq[t]) == s) cols.push_back(t);
      lora_x_.resize(static_cast<size_t>(n_in) * cols.size());
      for (size_t c = 0; c < cols.size(); ++c)
        std::copy_n(x.data_as<float>() + cols[c] * n_in, n_in, lora_x_.data() + c * static_cast<size_t>(n_in));
      xs = Tensor::wrap(nullptr, lora_x_.data(), DType::F32, Shape{n_in, static_cast<int64_t>(cols.size()), 1, 1}, 2);
    }
    const int64_t k = xs.ne(1);
    lora_tmp_.resize(static_cast<size_t>(R * k));
    lora_delta_.resize(static_cast<size_t>(n_out * k));
    Tensor tmp = Tensor::wrap(nullptr, lora_tmp_.data(), DType::F32, Shape{R, k, 1, 1}, 2);
    Tensor d = Tensor::wrap(nullptr, lora_delta_.data(), DType::F32, Shape{n_out, k, 1, 1}, 2);
    kernels::matmul(m.a, xs, tmp);  // [R, k]
    kernels::matmul(m.b, tmp, d);   // [n_out, k], scales folded into B
    float* yp = y.data_as<float>();
    const float* dp = lora_delta_.data();
    if (uniform) {
      for_row_ranges(k, n_out, [&](int64_t r0, int64_t r1) {
        add(yp + r0 * n_out, dp + r0 * n_out, yp + r0 * n_out, (r1 - r0) * n_out);
      });
    } else {
      for (size_t c = 0; c < cols.size(); ++c)
        add(yp + cols[c] * n_out, dp + c * static_cast<size_t>(n_out), yp + cols[c] * n_out, n_out);
    }
  }
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

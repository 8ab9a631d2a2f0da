// LoRA at inference for every decoder: y += scale · (alpha / rank) · B·(A·x) on the adapted
// projections (attn_q/k/v/output, ffn_gate/up/down, the output head) whatever the base weight's
// type, and on the token embedding (a token's row gains B·A[:, token]), as llama.cpp applies them
// (src/llama-graph.cpp build_lora_mm and build_inp_embd). The base weights are never touched: the
// update is two thin products beside the base matmul (kernels/lora.h, the same kernels training
// uses), with factors in f16 when every adapter of the set was stored in 16 bits
// (LoraAdapter::factor_type; what `helix sft` writes), else in f32. An adapter set's adapters are
// concatenated along the rank with their scales folded into B, so several adapters cost one pair
// of products; the A factors of projections that share their input (q/k/v, gate/up) are stacked
// so that one product serves them all (Decoder::project in decoder.cpp runs them).
#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "model/decoder.h"

namespace helix::model {

namespace {

// One adapted weight of a set: its adapters concatenated along the rank, scales folded into B.
struct Concat {
  int64_t rank = 0, n_in = 0, n_out = 0;
  std::vector<float> a;  // rank rows of n_in (the embedding: n_in rows of rank)
  std::vector<float> b;  // n_out rows of rank
};

Concat concat(const std::vector<LoraUse>& uses, const std::string& name, bool emb) {
  Concat c;
  for (const LoraUse& u : uses) {
    auto it = u.adapter->weights.find(name);
    if (it == u.adapter->weights.end()) continue;
    c.n_in = it->second.n_in;
    c.n_out = it->second.n_out;
    c.rank += it->second.rank;
  }
  const int64_t R = c.rank, n_in = c.n_in, n_out = c.n_out;
  c.a.resize(static_cast<size_t>(n_in * R));
  c.b.resize(static_cast<size_t>(n_out * R));
  int64_t off = 0;
  for (const LoraUse& u : uses) {
    auto it = u.adapter->weights.find(name);
    if (it == u.adapter->weights.end()) continue;
    const LoraPair& p = it->second;
    const float s = u.scale * u.adapter->scale(p);
    for (int64_t j = 0; j < p.rank; ++j)
      for (int64_t i = 0; i < n_in; ++i)
        c.a[static_cast<size_t>(emb ? i * R + off + j : (off + j) * n_in + i)] = p.a[static_cast<size_t>(j * n_in + i)];
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t j = 0; j < p.rank; ++j)
        c.b[static_cast<size_t>(o * R + off + j)] = s * p.b[static_cast<size_t>(o * p.rank + j)];
    off += p.rank;
  }
  return c;
}

// Copies n floats into a new tensor of type t (F16 or F32), ne = {ne0, n / ne0}.
Tensor factor(DType t, int64_t ne0, const std::vector<float>& v) {
  Tensor out = Tensor::empty(t, {ne0, static_cast<int64_t>(v.size()) / ne0});
  if (t == DType::F16)
    for (size_t i = 0; i < v.size(); ++i) out.data_as<uint16_t>()[i] = f32_to_f16(v[i]);
  else
    std::copy(v.begin(), v.end(), out.data_as<float>());
  return out;
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
  // embedding): their slot and place in it.
  std::map<const void*, std::pair<LoraAt, int>> where;
  for (int il = 0; il < hp_.n_layer; ++il) {
    const LayerWeights& L = layers_[static_cast<size_t>(il)];
    where[L.wq.data()] = {{il, LoraSlot::Qkv}, 0};
    where[L.wk.data()] = {{il, LoraSlot::Qkv}, 1};
    where[L.wv.data()] = {{il, LoraSlot::Qkv}, 2};
    where[L.wo.data()] = {{il, LoraSlot::AttnOut}, 0};
    where[L.w_gate.data()] = {{il, LoraSlot::GateUp}, 0};
    where[L.w_up.data()] = {{il, LoraSlot::GateUp}, 1};
    where[L.w_down.data()] = {{il, LoraSlot::Down}, 0};
  }
  where[output_.data()] = {{-1, LoraSlot::Head}, 0};

  bool half = true;  // f16 factors only when no adapter of the set asks for f32
  for (const LoraUse& u : uses) half = half && u.adapter->factor_type != DType::F32;
  const DType type = half ? DType::F16 : DType::F32;
  LoraSet set;
  set.layers.resize(static_cast<size_t>(hp_.n_layer));
  auto group_at = [&](LoraAt at) -> LoraGroup& {
    return at.layer < 0 ? set.head : set.layers[static_cast<size_t>(at.layer)][static_cast<size_t>(at.slot)];
  };
  std::map<LoraGroup*, std::array<Concat, 3>> pending;  // each slot's projections, in slot order
  for (const std::string& name : names) {
    const bool emb = lora_is_embedding(name);
    Concat c = concat(uses, name, emb);
    if (emb) {
      set.embd_a = std::move(c.a);
      set.embd_b = factor(DType::F32, c.rank, c.b);
      continue;
    }
    auto it = where.find(file_->tensor_data(*file_->find_tensor(name)));
    HELIX_CHECK(it != where.end(), "LoRA adapter '", uses.front().path, "' adapts '", name,
                "', a tensor Helix does not multiply with (it applies adapters to attn_q/k/v/output, "
                "ffn_gate/up/down, output and token_embd)");
    pending[&group_at(it->second.first)][static_cast<size_t>(it->second.second)] = std::move(c);
  }
  for (auto& [g, parts] : pending) {
    // A: the projections' rows stacked (they share n_in: they read the same x); B packed.
    std::vector<float> a;
    for (size_t i = 0; i < parts.size(); ++i) {
      const Concat& c = parts[i];
      if (c.rank == 0) continue;
      g->u_off[i] = g->down.rank;
      g->down.rank += c.rank;
      g->down.n_in = c.n_in;
      a.insert(a.end(), c.a.begin(), c.a.end());
      Tensor b = Tensor::empty(type, {kernels::lora_b_elems(c.rank, c.n_out)});
      kernels::lora_pack_b(c.b.data(), c.rank, c.n_out, 1.0f, type, b.data());
      g->storage.push_back(b);
      g->up[i] = {type, nullptr, b.data(), c.rank, c.n_in, c.n_out};
    }
    g->storage.push_back(factor(type, g->down.n_in, a));
    g->down.type = type;
    g->down.a = g->storage.back().data();
  }
  lora_sets_.push_back(std::move(set));
  return static_cast<int>(lora_sets_.size());
}

const Decoder::LoraGroup* Decoder::lora_group(LoraAt at, int set) const {
  if (set <= 0 || set > static_cast<int>(lora_sets_.size())) return nullptr;
  const LoraSet& s = lora_sets_[static_cast<size_t>(set - 1)];
  if (at.layer >= static_cast<int>(s.layers.size())) return nullptr;  // a removed set (remove_lora_set)
  const LoraGroup& g = at.layer < 0 ? s.head : s.layers[static_cast<size_t>(at.layer)][static_cast<size_t>(at.slot)];
  return g.down.rank > 0 ? &g : nullptr;
}

void Decoder::lora_columns(LoraAt at, const Tensor& x, Tensor* const* ys, int count, const int* col_set) const {
  const int64_t n = x.ne(1), n_in = x.ne(0);
  int64_t stride = 0, n_out = 0;
  for (int64_t t = 0; t < n; ++t)
    if (const LoraGroup* g = lora_group(at, col_set[t])) stride = std::max(stride, g->down.rank);
  if (stride == 0) return;
  for (int i = 0; i < count; ++i) n_out += ys[i]->ne(0);
  lora_u_.resize(static_cast<size_t>(stride * n));
  float* u = lora_u_.data();
  const float* xp = x.data_as<float>();
  auto columns = [&](int64_t c0, int64_t c1) {
    for (int64_t t = c0; t < c1; ++t) {
      const LoraGroup* g = lora_group(at, col_set[t]);
      if (!g) continue;
      float* ut = u + t * stride;
      kernels::lora_down(g->down, xp + t * n_in, n_in, 1, ut, stride);
      for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
        if (g->up[i].rank == 0) continue;
        const int64_t y_stride = static_cast<int64_t>(ys[i]->nb(1) / sizeof(float));
        kernels::lora_up(g->up[i], ut + g->u_off[i], 0, 1, 0, ys[i]->ne(0), ys[i]->data_as<float>() + t * y_stride,
                         y_stride);
      }
    }
  };
  // Multiply-adds below which one thread beats handing the work out.
  constexpr int64_t kSerial = int64_t{1} << 17;
  if (n * stride * (n_in + n_out) < kSerial || ThreadPool::global().size() == 1)
    columns(0, n);
  else
    ThreadPool::global().parallel_for(n, 1, columns);
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

void Decoder::remove_lora_set(int set) {
  if (set > 0 && set <= static_cast<int>(lora_sets_.size())) lora_sets_[static_cast<size_t>(set - 1)] = LoraSet{};
}

}  // namespace helix::model

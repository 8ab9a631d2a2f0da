// Decoder attention (see decoder.h): RoPE on the batch's queries and keys, the keys and values
// stored in the KV cache as f16, then attention over the cache in tiles of query rows that share
// a KV head (model/attention.h has the kernels and the chunk merge).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/profile.h"
#include "model/attention.h"
#include "model/decoder.h"
#include "model/rope.h"
#include "model/row_ranges.h"

namespace helix::model {

namespace {

// Rotates the first n_rot dims of each of n_heads vectors of size hd; c[i], s[i] are the cosine
// and sine of pair i.
void rope_heads(float* x, int64_t n_heads, int64_t hd, int64_t n_rot, RopeStyle style, const float* c,
                const float* s) {
  const int64_t half = n_rot / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * hd;
    if (style == RopeStyle::Neox) {
      float* v1 = v + half;
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = v[i], x1 = v1[i];
        v[i] = x0 * c[i] - x1 * s[i];
        v1[i] = x0 * s[i] + x1 * c[i];
      }
    } else {
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = v[2 * i], x1 = v[2 * i + 1];
        v[2 * i] = x0 * c[i] - x1 * s[i];
        v[2 * i + 1] = x0 * s[i] + x1 * c[i];
      }
    }
  }
}

}  // namespace

const float* Decoder::rope_table(const Batch& batch, float base, float scale) const {
  for (const RopeCache& r : rope_cache_)
    if (r.forward_id == forward_id_ && r.base == base && r.scale == scale) return r.cs.data();
  if (rope_cache_.size() >= 4) rope_cache_.erase(rope_cache_.begin());
  RopeCache& r = rope_cache_.emplace_back();
  r.forward_id = forward_id_;
  r.base = base;
  r.scale = scale;
  r.cs.resize(static_cast<size_t>(batch.size() * hp_.n_rot));
  rope_cos_sin(hp_, base, scale, batch.pos.data(), batch.size(), r.cs.data());
  return r.cs.data();
}

void Decoder::attention(int il, const Batch& batch, Tensor& q, Tensor& k, const Tensor& v, Tensor& out,
                        KVCache& kv, float rope_base, float rope_scale) const {
  const int64_t n = batch.size(), hd = hp_.head_dim, nh = hp_.n_head, nkv = hp_.n_head_kv;
  const int64_t group = nh / nkv, half = hp_.n_rot / 2, kv_dim = nkv * hd;
  const AttnKernels& ak = attn_kernels();
  ThreadPool& pool = ThreadPool::global();
  {
    prof::Scope ps("rope+kv_store");
    const float* cs = rope_table(batch, rope_base, rope_scale);
    float* qp = q.data_as<float>();
    float* kp = k.data_as<float>();
    const float* vp = v.data_as<const float>();
    for_row_ranges(n, (nh + 2 * nkv) * hd, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const float* c = cs + t * 2 * half;
        rope_heads(qp + t * nh * hd, nh, hd, hp_.n_rot, hp_.rope_style, c, c + half);
        rope_heads(kp + t * kv_dim, nkv, hd, hp_.n_rot, hp_.rope_style, c, c + half);
        const int seq = batch.seq[static_cast<size_t>(t)];
        const int64_t pos = batch.pos[static_cast<size_t>(t)];
        ak.f32_to_f16(kp + t * kv_dim, kv.k(il, seq, pos), kv_dim);
        ak.f32_to_f16(vp + t * kv_dim, kv.v(il, seq, pos), kv_dim);
      }
    });
  }
  prof::Scope ps("attention");
  const float scale = hp_.attn_scale > 0 ? hp_.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd));

  // Tiles of query rows that share a KV head and a key range: the group's heads for up to
  // kAttnMaxQ / group consecutive tokens of one sequence (or a slice of the heads if the group
  // alone is larger).
  struct Tile {
    int64_t t0, t1, h0, h1;  // tokens [t0, t1), heads of the group [h0, h1)
    int64_t k0, k1;          // key positions [k0, k1) visible to some row
  };
  std::vector<Tile> tiles;
  const int64_t tok_per_tile = std::max<int64_t>(1, kAttnMaxQ / group);
  const int64_t heads_per_tile = std::min<int64_t>(group, kAttnMaxQ);
  for (int64_t t = 0; t < n;) {
    const int seq = batch.seq[static_cast<size_t>(t)];
    int64_t e = t + 1;
    while (e < n && e - t < tok_per_tile && batch.seq[static_cast<size_t>(e)] == seq) ++e;
    int64_t k0 = INT64_MAX, k1 = 0;
    for (int64_t u = t; u < e; ++u) {
      const int64_t pos = batch.pos[static_cast<size_t>(u)];
      k0 = std::min(k0, kv.first_visible(il, pos));
      k1 = std::max(k1, pos + 1);
    }
    for (int64_t h = 0; h < group; h += heads_per_tile) tiles.push_back({t, e, h, std::min(group, h + heads_per_tile), k0, k1});
    t = e;
  }
  // Keys go in chunks of kAttnChunkKeys absolute positions. A row's chunks are each reduced from
  // an empty state and merged in order by merge_attn_state, whether one task walks them in turn
  // or (decode with few tiles: threads would idle) each chunk is a task of its own. So a row's
  // result depends only on its own keys, never on the batch it came in: a served stream gives
  // the same bits alone or beside others.
  constexpr int64_t kChunkBlocks = kAttnChunkKeys / KVCache::kBlockTokens;
  static_assert(kAttnChunkKeys % KVCache::kBlockTokens == 0);
  const int64_t n_units = static_cast<int64_t>(tiles.size()) * nkv;
  auto chunk_range = [&](const Tile& tl) {
    const int64_t b0 = tl.k0 / KVCache::kBlockTokens, b1 = (tl.k1 + KVCache::kBlockTokens - 1) / KVCache::kBlockTokens;
    return std::pair<int64_t, int64_t>{b0 / kChunkBlocks, (b1 + kChunkBlocks - 1) / kChunkBlocks};
  };
  int64_t max_chunks = 1;
  for (const Tile& tl : tiles) {
    const auto [c0, c1] = chunk_range(tl);
    max_chunks = std::max(max_chunks, c1 - c0);
  }
  const bool split = max_chunks > 1 && n_units < 2 * pool.size();
  const int64_t n_split = split ? max_chunks : 1;
  const int64_t rows_max = kAttnMaxQ, state_floats = rows_max * (hd + 2);
  std::vector<float> partial;
  if (split) partial.resize(static_cast<size_t>(n_units * n_split * state_floats));

  // Reduces chunk c of a unit's keys into the state (m, l, o) from empty.
  auto run_chunk = [&](const Tile& tl, int64_t g, int64_t c, const float* const* qrows, const int64_t* qlo,
                       const int64_t* qhi, int nq, float* m, float* l, float* o) {
    std::fill(m, m + nq, -INFINITY);
    std::fill(l, l + nq, 0.0f);
    std::fill(o, o + nq * hd, 0.0f);
    const int seq = batch.seq[static_cast<size_t>(tl.t0)];
    const int64_t blk0 = std::max(tl.k0 / KVCache::kBlockTokens, c * kChunkBlocks);
    const int64_t blk1 = std::min((tl.k1 + KVCache::kBlockTokens - 1) / KVCache::kBlockTokens, (c + 1) * kChunkBlocks);
    int lo[kAttnMaxQ], hi[kAttnMaxQ];
    for (int64_t b = blk0; b < blk1; ++b) {
      const int64_t js = std::max(tl.k0, b * KVCache::kBlockTokens);
      const int64_t je = std::min(tl.k1, (b + 1) * KVCache::kBlockTokens);
      if (js >= je) continue;
      const uint16_t* kb = kv.k(il, seq, js);
      const uint16_t* vb = kv.v(il, seq, js);
      HELIX_CHECK(kb && vb, "attention: the KV cache lacks position ", js, " of sequence ", seq);
      for (int r = 0; r < nq; ++r) {
        lo[r] = static_cast<int>(std::clamp<int64_t>(qlo[r] - js, 0, je - js));
        hi[r] = static_cast<int>(std::clamp<int64_t>(qhi[r] - js, 0, je - js));
      }
      // The next block's keys and values are on their way while this one is computed (decode
      // reads the cache once per step; it is not in the caches).
      if (b + 1 < blk1) {
        const int64_t ns = (b + 1) * KVCache::kBlockTokens;
        if (const uint16_t* nk = ns < tl.k1 ? kv.k(il, seq, ns) : nullptr) {
          const auto* nkb = reinterpret_cast<const char*>(nk + g * hd);
          const auto* nvb = reinterpret_cast<const char*>(kv.v(il, seq, ns) + g * hd);
          const int64_t bytes = (std::min<int64_t>(tl.k1 - ns, KVCache::kBlockTokens) - 1) * kv_dim * 2 + hd * 2;
          for (int64_t off = 0; off < bytes; off += 64) {
            __builtin_prefetch(nkb + off, 0, 3);
            __builtin_prefetch(nvb + off, 0, 3);
          }
        }
      }
      AttnBlockArgs a{qrows, nq, kb + g * hd, vb + g * hd, kv_dim, static_cast<int>(je - js), hd, lo, hi, scale, m, l, o};
      ak.attend_block(a);
    }
  };
  // Writes a unit's merged rows, normalized, to out.
  auto store = [&](const Tile& tl, int64_t g, int nq, const float* l, const float* o) {
    const int64_t nhh = tl.h1 - tl.h0;
    for (int r = 0; r < nq; ++r) {
      const int64_t u = tl.t0 + r / nhh, h = g * group + tl.h0 + r % nhh;
      float* dst = out.data_as<float>() + (u * nh + h) * hd;
      const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
      for (int64_t d = 0; d < hd; ++d) dst[d] = o[static_cast<size_t>(r) * hd + d] * inv;
    }
  };

  auto run_task = [&](int64_t task) {
    const int64_t sp = task % n_split, unit = task / n_split;
    const Tile& tl = tiles[static_cast<size_t>(unit / nkv)];
    const int64_t g = unit % nkv;
    const int64_t nhh = tl.h1 - tl.h0;
    const int nq = static_cast<int>((tl.t1 - tl.t0) * nhh);
    const float* qrows[kAttnMaxQ];
    int64_t qlo[kAttnMaxQ], qhi[kAttnMaxQ];  // visible key positions [qlo, qhi) per row
    for (int64_t u = tl.t0; u < tl.t1; ++u) {
      const int64_t pos = batch.pos[static_cast<size_t>(u)];
      for (int64_t hh = 0; hh < nhh; ++hh) {
        const int64_t r = (u - tl.t0) * nhh + hh;
        qrows[r] = q.data_as<float>() + (u * nh + g * group + tl.h0 + hh) * hd;
        qlo[r] = kv.first_visible(il, pos);
        qhi[r] = pos + 1;
      }
    }
    const auto [c0, c1] = chunk_range(tl);
    if (split) {  // one chunk into its own slot; merged below
      float* m = partial.data() + static_cast<size_t>(task * state_floats);
      if (c0 + sp < c1) run_chunk(tl, g, c0 + sp, qrows, qlo, qhi, nq, m, m + rows_max, m + 2 * rows_max);
      else std::fill(m, m + rows_max, -INFINITY);
      return;
    }
    thread_local std::vector<float> state;  // the merged state, then one chunk's
    state.resize(static_cast<size_t>(2 * state_floats));
    float *am = state.data(), *al = am + rows_max, *ao = al + rows_max;
    float *cm = am + state_floats, *cl = cm + rows_max, *co = cl + rows_max;
    std::fill(am, am + nq, -INFINITY);
    std::fill(al, al + nq, 0.0f);
    std::fill(ao, ao + nq * hd, 0.0f);
    for (int64_t c = c0; c < c1; ++c) {
      run_chunk(tl, g, c, qrows, qlo, qhi, nq, cm, cl, co);
      for (int r = 0; r < nq; ++r) merge_attn_state(am[r], al[r], ao + r * hd, cm[r], cl[r], co + r * hd, hd);
    }
    store(tl, g, nq, al, ao);
  };
  const int64_t n_tasks = n_units * n_split;
  if (n_tasks == 1 || pool.size() == 1) {
    for (int64_t t = 0; t < n_tasks; ++t) run_task(t);
  } else {
    pool.parallel_for(n_tasks, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) run_task(t);
    });
  }
  if (!split) return;
  std::vector<float> merged(static_cast<size_t>(state_floats));
  for (int64_t unit = 0; unit < n_units; ++unit) {
    const Tile& tl = tiles[static_cast<size_t>(unit / nkv)];
    const int nq = static_cast<int>((tl.t1 - tl.t0) * (tl.h1 - tl.h0));
    float *am = merged.data(), *al = am + rows_max, *ao = al + rows_max;
    std::fill(merged.begin(), merged.end(), 0.0f);
    std::fill(am, am + nq, -INFINITY);
    for (int64_t sp = 0; sp < n_split; ++sp) {
      const float* m = partial.data() + static_cast<size_t>((unit * n_split + sp) * state_floats);
      for (int r = 0; r < nq; ++r)
        merge_attn_state(am[r], al[r], ao + r * hd, m[r], m[rows_max + r], m + 2 * rows_max + r * hd, hd);
    }
    store(tl, unit % nkv, nq, al, ao);
  }
}

}  // namespace helix::model

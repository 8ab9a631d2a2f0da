// Attention inner loops over f16 keys and values (the KV cache's element type). Chosen at run
// time: AVX2+FMA+F16C (attention_avx2.cpp) or the scalar reference (attention.cpp).
//
//   dot_f16, axpy_f16, f32_to_f16: single-vector helpers;
//   attend_block: one step of online-softmax ("flash") attention: up to kAttnMaxQ query rows
//     against one block of up to kAttnMaxK keys/values, updating each query's running maximum m,
//     running sum l and unnormalized output o. The keys' f16 rows are loaded once per block for
//     all query rows (the heads that share a KV head, times several tokens in prefill).
#pragma once

#include <cstdint>

namespace helix::model {

inline constexpr int kAttnMaxQ = 16;  // query rows per attend_block call
inline constexpr int kAttnMaxK = 32;  // keys per attend_block call (a KV cache block)
// Keys a query row reduces in one piece before merging (absolute positions [c * 256, (c+1) * 256)).
inline constexpr int64_t kAttnChunkKeys = 256;

struct AttnBlockArgs {
  const float* const* q;  // [nq] query rows of hd floats
  int nq;
  const uint16_t* k;  // key j at k + j * kv_stride (f16)
  const uint16_t* v;  // value j at v + j * kv_stride (f16)
  int64_t kv_stride;  // in elements
  int nk;             // keys in this block, <= kAttnMaxK
  int64_t hd;         // head dim, a multiple of 16
  const int* lo;      // [nq] query i sees keys j with lo[i] <= j < hi[i] (block-relative)
  const int* hi;
  float scale;        // scores are scale * q . k
  float* m;           // [nq] running max of the scores (-inf before the first key)
  float* l;           // [nq] running sum of exp(score - m)
  float* o;           // [nq * hd] running sum of exp(score - m) * v
};

struct AttnKernels {
  float (*dot_f16)(const float* q, const uint16_t* k, int64_t n);
  void (*axpy_f16)(float a, const uint16_t* v, float* y, int64_t n);
  void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n);
  void (*attend_block)(const AttnBlockArgs& a);
};

const AttnKernels& attn_kernels();

// attend_block one query row and one key at a time with the given f16 dot and axpy (the scalar
// kernel, and the AVX2 one for head dims that are not a multiple of 16).
void attend_block_rowwise(const AttnBlockArgs& a, float (*dot)(const float*, const uint16_t*, int64_t),
                          void (*axpy)(float, const uint16_t*, float*, int64_t));

// Merges one chunk's state (m, l, o[hd]) into a row's running state (am, al, ao[hd]): the states'
// outputs scaled to the larger maximum and added. Every path merges with this one function, in
// chunk order, so a row's result has the same bits however its chunks were scheduled.
void merge_attn_state(float& am, float& al, float* ao, float m, float l, const float* o, int64_t hd);
const AttnKernels& attn_kernels_scalar();
const AttnKernels& attn_kernels_avx2();

}  // namespace helix::model

// matmul and the row dot products: the scalar reference against a float dot of the reference
// dequantizer's weights (within the activation quantization error), the AVX2 path against the
// scalar one for every type and odd shapes, activation converters byte for byte, batching,
// threading and argument checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"
#include "kernels/vec_dot.h"
#include "quant/quant.h"

namespace helix::kernels {
namespace {

using testing::dequant_row;
using testing::matmul_types;
using testing::random_f32;
using testing::random_weights;

std::string type_param_name(const ::testing::TestParamInfo<DType>& info) {
  return std::string(dtype_name(info.param));
}

int64_t block_of(DType t) { return dtype_block_size(t); }

// Activation block size the kernels quantize x with (1 = no quantization).
int64_t act_block(DType t) {
  if (!dtype_is_quantized(t)) return 1;
  return block_of(t) == 256 ? 256 : 32;
}

class MatmulTypes : public ::testing::TestWithParam<DType> {};

// The activations as the kernels see them: x rounded through the scalar converter, back in f32.
std::vector<float> rounded_activations(DType t, const float* x, int64_t n) {
  const DotKernels* k = dot_kernels(t, Isa::Scalar);
  if (k->act == ActFormat::F32) return std::vector<float>(x, x + n);
  std::vector<uint8_t> buf(act_row_bytes(k->act, n));
  k->quantize_act(x, buf.data(), n);
  std::vector<float> out(static_cast<size_t>(n));
  if (k->act == ActFormat::Q8A) {
    const auto* b = reinterpret_cast<const BlockQ8A*>(buf.data());
    for (int64_t i = 0; i < n; ++i) out[i] = b[i / 32].d * b[i / 32].qs[i % 32];
  } else {
    const auto* b = reinterpret_cast<const quant::BlockQ8_K*>(buf.data());
    for (int64_t i = 0; i < n; ++i) out[i] = b[i / 256].d * b[i / 256].qs[i % 256];
  }
  return out;
}

// The scalar reference against float dots in double of the reference dequantizer's weights:
//  - with the activations rounded as the kernels round them, only float rounding remains
//    (tolerance 1e-5 * sum |w_i x_i|), so every weight bit's decoding is checked;
//  - with the raw activations, the difference is the activation quantization error, bounded per
//    block by amax / 254 * sum |w_i| (x is rounded to steps of amax / 127).
TEST_P(MatmulTypes, ScalarMatchesDequantizedFloatDot) {
  const DType t = GetParam();
  std::mt19937 rng(7 + static_cast<int>(t));
  const int64_t n_in = dtype_is_quantized(t) ? 768 : 301;
  const int64_t n_out = 11, n_tok = 3;
  const Tensor w = random_weights(t, n_in, n_out, rng);
  const Tensor x = random_f32({n_in, n_tok}, rng);
  Tensor y = Tensor::empty(DType::F32, {n_out, n_tok});
  matmul_cpu(w, x, y, Isa::Scalar);
  const int64_t ab = act_block(t);
  for (int64_t tok = 0; tok < n_tok; ++tok) {
    const float* xr = reinterpret_cast<const float*>(x.row(tok));
    const std::vector<float> xq = rounded_activations(t, xr, n_in);
    for (int64_t r = 0; r < n_out; ++r) {
      const std::vector<float> wr = dequant_row(w, r);
      double exact = 0, exact_q = 0, mag = 0, act_err = 0;
      for (int64_t b0 = 0; b0 < n_in; b0 += ab) {
        float amax = 0;
        double wabs = 0;
        for (int64_t i = b0; i < b0 + ab; ++i) {
          exact += static_cast<double>(wr[i]) * xr[i];
          exact_q += static_cast<double>(wr[i]) * xq[i];
          mag += std::fabs(static_cast<double>(wr[i]) * xr[i]);
          amax = std::max(amax, std::fabs(xr[i]));
          wabs += std::fabs(wr[i]);
        }
        if (ab > 1) act_err += amax / 254.0 * wabs;
      }
      const double got = reinterpret_cast<const float*>(y.row(tok))[r];
      EXPECT_NEAR(got, exact_q, 1e-5 * mag + 1e-7)
          << dtype_name(t) << " (rounded x) row " << r << " token " << tok;
      EXPECT_NEAR(got, exact, act_err + 1e-5 * mag + 1e-7)
          << dtype_name(t) << " (raw x) row " << r << " token " << tok;
    }
  }
}

// Weights that went through the reference quantizer (realistic codes and scales): the quantized
// product must stay close to the f32 product (quantization error of weights and activations).
TEST_P(MatmulTypes, QuantizedWeightsTrackF32Product) {
  const DType t = GetParam();
  std::mt19937 rng(11 + static_cast<int>(t));
  const int64_t n_in = 512, n_out = 9, n_tok = 2;
  const Tensor wf = random_f32({n_in, n_out}, rng);
  const Tensor w = quant::quantize(wf, t);
  const Tensor x = random_f32({n_in, n_tok}, rng);
  Tensor y = Tensor::empty(DType::F32, {n_out, n_tok});
  Tensor yf = Tensor::empty(DType::F32, {n_out, n_tok});
  matmul(w, x, y);
  matmul_cpu(wf, x, yf, Isa::Scalar);
  double err = 0, ref = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    err += std::pow(y.data_as<float>()[i] - yf.data_as<float>()[i], 2);
    ref += std::pow(yf.data_as<float>()[i], 2);
  }
  // Relative RMS error, by format (about 1.5x what uniform random weights give).
  const double rel = std::sqrt(err / ref);
  double limit = 0.03;  // Q8_0, Q6_K
  if (t == DType::F32) limit = 1e-6;
  if (t == DType::F16 || t == DType::BF16) limit = 0.005;
  if (t == DType::Q5_0 || t == DType::Q5_1 || t == DType::Q5_K) limit = 0.09;
  if (t == DType::Q4_0 || t == DType::Q4_1 || t == DType::Q4_K) limit = 0.12;
  if (t == DType::Q3_K) limit = 0.25;
  if (t == DType::Q2_K) limit = 0.35;
  EXPECT_LT(rel, limit) << dtype_name(t);
}

// The AVX2 path against the scalar reference: odd row counts, 1..7 tokens (1-4 and the tails of
// the 4-token groups), and a prefill large enough to span token tiles.
TEST_P(MatmulTypes, Avx2MatchesScalar) {
  if (!isa_available(Isa::Avx2)) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C (or HELIX_FORCE_SCALAR)";
  const DType t = GetParam();
  std::mt19937 rng(3 + static_cast<int>(t));
  const bool flt = !dtype_is_quantized(t);
  struct Shape {
    int64_t n_in, n_out, n_tok;
  };
  std::vector<Shape> shapes;
  for (int64_t n_tok = 1; n_tok <= 7; ++n_tok)
    shapes.push_back({flt ? 67 : (block_of(t) == 256 ? 512 : 96), 13 + n_tok, n_tok});
  shapes.push_back({block_of(t) == 256 ? 256 : 32, 5, 3});     // a single block per row
  shapes.push_back({block_of(t) == 256 ? 768 : 640, 37, 70});  // two token tiles
  // the GEMM path (8-row panels, several panel tiles, a row tail, 4-token groups and tails)
  shapes.push_back({block_of(t) == 256 ? 256 : 96, 88, 9});
  shapes.push_back({block_of(t) == 256 ? 512 : 2048, 45, 131});
  for (const Shape& s : shapes) {
    const Tensor w = random_weights(t, s.n_in, s.n_out, rng);
    const Tensor x = random_f32({s.n_in, s.n_tok}, rng, -3.0f, 3.0f);
    Tensor ys = Tensor::empty(DType::F32, {s.n_out, s.n_tok});
    Tensor yv = Tensor::empty(DType::F32, {s.n_out, s.n_tok});
    matmul_cpu(w, x, ys, Isa::Scalar);
    matmul_cpu(w, x, yv, Isa::Avx2);
    for (int64_t r = 0; r < s.n_out; ++r) {
      const std::vector<float> wr = dequant_row(w, r);
      for (int64_t tok = 0; tok < s.n_tok; ++tok) {
        const float* xr = reinterpret_cast<const float*>(x.row(tok));
        double mag = 0;
        for (int64_t i = 0; i < s.n_in; ++i) mag += std::fabs(static_cast<double>(wr[i]) * xr[i]);
        const float a = reinterpret_cast<const float*>(ys.row(tok))[r];
        const float b = reinterpret_cast<const float*>(yv.row(tok))[r];
        // Same integer sums; only the order of float additions differs.
        ASSERT_NEAR(a, b, 1e-5 * mag + 1e-7)
            << dtype_name(t) << " n_in " << s.n_in << " n_out " << s.n_out << " n_tok " << s.n_tok
            << " row " << r << " token " << tok;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulTypes, ::testing::ValuesIn(matmul_types()),
                         type_param_name);

// The AVX2 activation converters write the same bytes as the scalar ones, including all-zero
// blocks, exact ties (x * id = k + 0.5) and extremes.
TEST(ActivationQuant, Avx2BytesEqualScalar) {
  if (!isa_available(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(5);
  std::vector<float> x(1024);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (auto& v : x) v = u(rng);
  for (int i = 256; i < 288; ++i) x[i] = 0;  // a zero Q8A block
  // A block with amax 127 (scale 1): halves tie and must round to even in both paths.
  for (int i = 512; i < 544; ++i) x[i] = static_cast<float>(i % 7 - 3) + 0.5f;
  x[512] = 127.0f;
  x[600] = 1e30f;
  x[700] = -1e-30f;
  for (DType wt : {DType::Q4_0, DType::Q4_K}) {
    const DotKernels* ref = dot_kernels(wt, Isa::Scalar);
    const DotKernels* fast = dot_kernels(wt, Isa::Avx2);
    ASSERT_TRUE(ref && fast);
    const size_t nb = act_row_bytes(ref->act, 1024);
    std::vector<uint8_t> a(nb), b(nb);
    ref->quantize_act(x.data(), a.data(), 1024);
    fast->quantize_act(x.data(), b.data(), 1024);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), nb)) << dtype_name(wt);
  }
}

// Batch dims: w's matrices broadcast over x's (two x matrices per w matrix), against 2-D calls.
TEST(Matmul, BroadcastsBatchDims) {
  std::mt19937 rng(9);
  const int64_t n_in = 64, n_out = 6, n_tok = 5;
  const Tensor w = random_weights(DType::Q8_0, n_in, n_out, rng, 2);
  Tensor x = Tensor::empty(DType::F32, {n_in, n_tok, 4});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data_as<float>()[i] = std::sin(0.1f * static_cast<float>(i));
  Tensor y = Tensor::empty(DType::F32, {n_out, n_tok, 4});
  matmul(w, x, y);
  for (int64_t b = 0; b < 4; ++b) {
    Tensor wb = Tensor::empty(DType::Q8_0, {n_in, n_out});
    std::memcpy(wb.data(), w.row(0, b / 2), wb.nbytes());
    Tensor xb = Tensor::empty(DType::F32, {n_in, n_tok});
    std::memcpy(xb.data(), x.row(0, b), xb.nbytes());
    Tensor yb = Tensor::empty(DType::F32, {n_out, n_tok});
    matmul(wb, xb, yb);
    EXPECT_EQ(0, std::memcmp(yb.data(), y.row(0, b), yb.nbytes())) << "batch " << b;
  }
}

// Each output is computed by one thread with a fixed order of operations, so the thread count
// and the tiling it implies must not change a single bit.
TEST(Matmul, ThreadCountDoesNotChangeResults) {
  std::mt19937 rng(13);
  const Tensor w = random_weights(DType::Q4_K, 512, 301, rng);
  for (int64_t n_tok : {1, 6, 130}) {
    const Tensor x = random_f32({512, n_tok}, rng);
    Tensor y1 = Tensor::empty(DType::F32, {301, n_tok});
    Tensor y3 = Tensor::empty(DType::F32, {301, n_tok});
    const int before = ThreadPool::global().size();
    ThreadPool::set_global_threads(1);
    matmul(w, x, y1);
    ThreadPool::set_global_threads(3);
    matmul(w, x, y3);
    ThreadPool::set_global_threads(before);
    EXPECT_EQ(0, std::memcmp(y1.data(), y3.data(), y1.nbytes())) << "n_tok " << n_tok;
  }
}

TEST(Matmul, RegisteredAsOp) {
  EXPECT_TRUE(matmul_op().has(Device::CPU));
  EXPECT_STREQ(matmul_op().name(), "matmul");
  for (DType t : matmul_types()) EXPECT_TRUE(matmul_supports(t)) << dtype_name(t);
  EXPECT_FALSE(matmul_supports(DType::IQ2_XXS));
}

TEST(Matmul, RejectsBadArguments) {
  std::mt19937 rng(1);
  const Tensor w = random_weights(DType::Q8_0, 64, 4, rng);
  const Tensor x = random_f32({64, 2}, rng);
  Tensor y = Tensor::empty(DType::F32, {4, 2});
  Tensor y_bad = Tensor::empty(DType::F32, {5, 2});
  EXPECT_THROW(matmul(w, x, y_bad), Error);
  const Tensor x_bad = random_f32({32, 2}, rng);
  EXPECT_THROW(matmul(w, x_bad, y), Error);
  Tensor x16 = Tensor::empty(DType::F16, {64, 2});
  EXPECT_THROW(matmul(w, x16, y), Error);
  const Tensor w_iq = Tensor::empty(DType::IQ4_NL, {64, 4});
  EXPECT_THROW(matmul(w_iq, x, y), Error);
  EXPECT_NO_THROW(matmul(w, x, y));
}

// A weight matrix row view (first row offset) multiplies like the copied rows.
TEST(Matmul, RowViewOfWeights) {
  std::mt19937 rng(21);
  const Tensor w = random_weights(DType::Q5_0, 128, 10, rng);
  const Tensor wv = w.view_rows(3, 5);
  const Tensor x = random_f32({128, 1}, rng);
  Tensor y = Tensor::empty(DType::F32, {10, 1});
  Tensor yv = Tensor::empty(DType::F32, {5, 1});
  matmul(w, x, y);
  matmul(wv, x, yv);
  for (int r = 0; r < 5; ++r) EXPECT_EQ(y.data_as<float>()[3 + r], yv.data_as<float>()[r]);
}

// A token's result must not depend on how many tokens share the matmul (a served stream gives
// the same text alone or in a batch): bit for bit, on every path a weight type takes.
TEST(Matmul, BatchInvariantPerToken) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2}) {
    if (!isa_available(isa)) continue;
    for (DType t : {DType::Q5_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q4_0, DType::F16, DType::BF16, DType::F32}) {
      // float weights also with both row tails (203 = 12 * 16 + 8 + 3) and an odd row count (the
      // prefill tile takes rows in pairs)
      const bool is_float = t == DType::F16 || t == DType::BF16 || t == DType::F32;
      for (int shape = 0; shape < (is_float ? 2 : 1); ++shape)
      for (bool packed : {false, true}) {
        std::mt19937 rng(11 + static_cast<int>(t));
        const int64_t n_in = shape == 0 ? 512 : 203, n_out = shape == 0 ? 64 : 37;
        const Tensor w = random_weights(t, n_in, n_out, rng);
        auto handle = packed ? pack_weight(w) : nullptr;
        if (packed && !handle) continue;
        const int64_t n_tok = 70;
        const Tensor x = random_f32({n_in, n_tok}, rng, -3.0f, 3.0f);
        Tensor all = Tensor::empty(DType::F32, {n_out, n_tok});
        matmul_cpu(w, x, all, isa);
        for (int64_t k : {1, 3, 4, 5, 8, 9, 16}) {  // the first k tokens alone
          const Tensor xk = x.view_rows(0, k);
          Tensor yk = Tensor::empty(DType::F32, {n_out, k});
          matmul_cpu(w, xk, yk, isa);
          for (int64_t tok = 0; tok < k; ++tok)
            for (int64_t r = 0; r < n_out; ++r)
              ASSERT_EQ(reinterpret_cast<const float*>(yk.row(tok))[r], reinterpret_cast<const float*>(all.row(tok))[r])
                  << dtype_name(t) << (packed ? " packed" : "") << " n_in " << n_in << " isa " << static_cast<int>(isa) << " k " << k
                  << " token " << tok << " row " << r;
        }
      }
    }
  }
}

}  // namespace
}  // namespace helix::kernels

namespace helix::kernels {
namespace {

// Packed weights (kernels/packed.h): matmul on the AVX2 path reads the packed copy while its
// handle lives and agrees with the scalar path on the original, for decode-sized and GEMM-sized
// token counts; without the handle it reads the original again.
TEST(PackedWeights, MatchScalarOnTheOriginal) {
  if (!isa_available(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
  for (DType t : {DType::Q5_0, DType::Q8_0}) {
    std::mt19937 rng(7 + static_cast<int>(t));
    const int64_t n_in = 640, n_out = 88;
    const Tensor w = random_weights(t, n_in, n_out, rng);
    auto handle = pack_weight(w);
    ASSERT_NE(handle, nullptr) << dtype_name(t);
    ASSERT_EQ(find_packed(w), handle.get());
    for (int64_t n_tok : {1, 2, 3, 4, 5, 6, 7, 8, 9, 70}) {
      const Tensor x = random_f32({n_in, n_tok}, rng, -3.0f, 3.0f);
      Tensor ys = Tensor::empty(DType::F32, {n_out, n_tok});
      Tensor yv = Tensor::empty(DType::F32, {n_out, n_tok});
      matmul_cpu(w, x, ys, Isa::Scalar);
      matmul_cpu(w, x, yv, Isa::Avx2);
      for (int64_t tok = 0; tok < n_tok; ++tok)
        for (int64_t r = 0; r < n_out; ++r) {
          const std::vector<float> wr = dequant_row(w, r);
          const float* xr = reinterpret_cast<const float*>(x.row(tok));
          double mag = 0;
          for (int64_t i = 0; i < n_in; ++i) mag += std::fabs(static_cast<double>(wr[i]) * xr[i]);
          ASSERT_NEAR(reinterpret_cast<const float*>(ys.row(tok))[r],
                      reinterpret_cast<const float*>(yv.row(tok))[r], 1e-5 * mag + 1e-7)
              << dtype_name(t) << " n_tok " << n_tok << " row " << r << " token " << tok;
        }
    }
    std::vector<float> row(static_cast<size_t>(n_in));
    for (int64_t r : {0, 5, 8, 87}) {
      packed_get_row(*handle, r, row.data());
      ASSERT_EQ(row, dequant_row(w, r)) << dtype_name(t) << " row " << r;  // bit for bit
    }
    handle.reset();
    EXPECT_EQ(find_packed(w), nullptr);
  }
  // Shapes without a packed form are left alone.
  std::mt19937 rng(1);
  EXPECT_EQ(pack_weight(random_weights(DType::Q5_0, 64, 12, rng)), nullptr);  // rows % 8 != 0
  EXPECT_EQ(pack_weight(random_weights(DType::Q4_K, 256, 16, rng)), nullptr);  // no packed type
}

// The AVX-VNNI Q8_0 group dots and Q5_0 GEMM (where the CPU has them) give bit-identical results
// to the plain AVX2 ones, for every column count (extreme codes -128/127 included: vpdpbusd must not differ
// where maddubs would saturate).
TEST(PackedWeights, VnniDotsEqualAvx2BitForBit) {
  if (!isa_available(Isa::Avx2) || !cpu_features().avx_vnni) GTEST_SKIP() << "no AVX-VNNI";
  const PackedKernels* plain = packed_kernels_avx2(DType::Q8_0, false);
  const PackedKernels* vnni = packed_kernels_avx2(DType::Q8_0, true);
  ASSERT_NE(plain, vnni) << "the VNNI table is not chosen (HELIX_NO_VNNI set?)";
  std::mt19937 rng(11);
  const int64_t n_in = 640;
  Tensor w = random_weights(DType::Q8_0, n_in, 8, rng);
  auto* blk = reinterpret_cast<int8_t*>(w.data()) + 2;  // first block's codes
  blk[0] = -128;
  blk[1] = 127;
  std::vector<uint8_t> group(plain->group_bytes(n_in));
  plain->pack(static_cast<const uint8_t*>(w.data()), w.nb(1), n_in, group.data());
  const size_t a_row = act_row_bytes(ActFormat::Q8A, n_in);
  std::vector<uint8_t> act(a_row * kPackMaxCols);
  const Tensor x = random_f32({n_in, kPackMaxCols}, rng, -3.0f, 3.0f);
  for (int c = 0; c < kPackMaxCols; ++c)
    quantize_act_q8a_ref(reinterpret_cast<const float*>(x.row(c)), act.data() + c * a_row, n_in);
  for (int nc = 1; nc <= kPackMaxCols; ++nc) {
    std::vector<float> a(8 * kPackMaxCols, 0.0f), b(a.size(), 1.0f);
    plain->dot(group.data(), n_in, act.data(), a_row, nc, a.data(), 8);
    vnni->dot(group.data(), n_in, act.data(), a_row, nc, b.data(), 8);
    for (int i = 0; i < 8 * nc; ++i) ASSERT_EQ(a[static_cast<size_t>(i)], b[static_cast<size_t>(i)]) << "nc " << nc << " at " << i;
  }
  // The Q5_0 GEMM on panels (codes 0 and 31 included), for 1 to 9 columns.
  const PackedKernels* q5 = packed_kernels_avx2(DType::Q5_0);
  const GemmKernels* gp = gemm_kernels_avx2(DType::Q5_0, false);
  const GemmKernels* gv = gemm_kernels_avx2(DType::Q5_0, true);
  ASSERT_NE(gp, gv);
  Tensor w5 = random_weights(DType::Q5_0, n_in, 8, rng);
  std::vector<float> ext(static_cast<size_t>(n_in), 0.0f);
  ext[0] = 1.0f;  // one block holding the extreme codes (q = +15 and -16)
  ext[1] = -16.0f / 15.0f;
  quant::quantize_row(DType::Q5_0, ext.data(), w5.row(3), n_in);
  std::vector<uint8_t> group5(q5->group_bytes(n_in));
  q5->pack(static_cast<const uint8_t*>(w5.data()), w5.nb(1), n_in, group5.data());
  std::vector<uint8_t> panel_buf(gp->panel_bytes(n_in) + 32);
  uint8_t* panel = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(panel_buf.data()) + 31) & ~uintptr_t{31});
  q5->to_panel(group5.data(), n_in, panel);
  const Tensor x9 = random_f32({n_in, 9}, rng, -3.0f, 3.0f);
  std::vector<uint8_t> act9(a_row * 9);
  for (int c = 0; c < 9; ++c) quantize_act_q8a_ref(reinterpret_cast<const float*>(x9.row(c)), act9.data() + c * a_row, n_in);
  for (int nc = 1; nc <= 9; ++nc) {
    std::vector<float> a(8 * 9, 0.0f), b(a.size(), 1.0f);
    gp->run(panel, n_in, act9.data(), a_row, nc, a.data(), 8);
    gv->run(panel, n_in, act9.data(), a_row, nc, b.data(), 8);
    for (int i = 0; i < 8 * nc; ++i) ASSERT_EQ(a[static_cast<size_t>(i)], b[static_cast<size_t>(i)]) << "Q5_0 GEMM nc " << nc << " at " << i;
  }
}

}  // namespace
}  // namespace helix::kernels

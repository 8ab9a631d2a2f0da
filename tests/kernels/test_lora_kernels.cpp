// LoRA's low-rank products (kernels/lora.h) against a float64 reference on both paths, f32 and
// f16 factors, odd sizes, row ranges and several columns; and kernels::matmul_many's RowsDone,
// which must cover every output row of every weight exactly once, after the rows are final.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "core/fp16.h"
#include "core/tensor.h"
#include "kernel_test_util.h"
#include "kernels/lora.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"

namespace helix::kernels {
namespace {

struct Factors {
  std::vector<float> a, b;          // values (f16-rounded for F16); b: n_out rows of rank
  std::vector<uint16_t> a16, bp16;  // the F16 copies (B packed)
  std::vector<float> bp;            // B packed, f32
};

Factors make(DType t, int64_t rank, int64_t n_in, int64_t n_out, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 0.5f);
  Factors x;
  x.a.resize(static_cast<size_t>(rank * n_in));
  x.b.resize(static_cast<size_t>(rank * n_out));
  for (auto* v : {&x.a, &x.b})
    for (float& e : *v) e = t == DType::F16 ? f16_to_f32(f32_to_f16(nd(rng))) : nd(rng);
  for (float e : x.a) x.a16.push_back(f32_to_f16(e));
  x.bp.resize(static_cast<size_t>(lora_b_elems(rank, n_out)));
  x.bp16.resize(x.bp.size());
  lora_pack_b(x.b.data(), rank, n_out, 1.0f, DType::F32, x.bp.data());
  lora_pack_b(x.b.data(), rank, n_out, 1.0f, DType::F16, x.bp16.data());
  return x;
}

// Both kernels on one path against float64, over ranks 1..17, odd n_in/n_out, sub-ranges of the
// output rows and 1..5 columns (lora_up takes them four at a time).
void check_path(Isa isa, DType t) {
  std::mt19937 rng(7);
  const LoraKernels& k = lora_kernels(isa);
  for (int64_t rank : {1, 3, 4, 5, 8, 16, 17})
    for (auto [n_in, n_out] : {std::pair<int64_t, int64_t>{640, 1024}, {37, 45}, {8, 7}, {259, 96}}) {
      Factors fx = make(t, rank, n_in, n_out, rng);
      for (int64_t nc : {1, 2, 3, 4, 5}) {
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> x(static_cast<size_t>(n_in * nc)), y(static_cast<size_t>(n_out * nc)), u(static_cast<size_t>(rank * nc));
        for (float& e : x) e = nd(rng);
        for (float& e : y) e = nd(rng);
        std::vector<float> y0 = y;
        const int64_t o0 = n_out / 3, o1 = n_out - n_out / 5;
        for (int64_t c = 0; c < nc; ++c) {
          if (t == DType::F16) k.down_f16(fx.a16.data(), rank, n_in, x.data() + c * n_in, u.data() + c * rank);
          else k.down_f32(fx.a.data(), rank, n_in, x.data() + c * n_in, u.data() + c * rank);
        }
        for (int64_t c = 0; c < nc; c += kLoraUpCols) {
          const int m = static_cast<int>(std::min<int64_t>(kLoraUpCols, nc - c));
          if (t == DType::F16)
            k.up_f16(fx.bp16.data(), rank, n_out, o0, o1, u.data() + c * rank, rank, m, y.data() + c * n_out, n_out);
          else
            k.up_f32(fx.bp.data(), rank, n_out, o0, o1, u.data() + c * rank, rank, m, y.data() + c * n_out, n_out);
        }
        for (int64_t c = 0; c < nc; ++c) {
          std::vector<double> ur(static_cast<size_t>(rank));
          for (int64_t j = 0; j < rank; ++j) {
            double s = 0, mag = 0;
            for (int64_t i = 0; i < n_in; ++i) {
              s += static_cast<double>(fx.a[static_cast<size_t>(j * n_in + i)]) * x[static_cast<size_t>(c * n_in + i)];
              mag += std::fabs(static_cast<double>(fx.a[static_cast<size_t>(j * n_in + i)]) * x[static_cast<size_t>(c * n_in + i)]);
            }
            ur[static_cast<size_t>(j)] = s;
            ASSERT_NEAR(u[static_cast<size_t>(c * rank + j)], s, 1e-5 * mag + 1e-6) << "down rank " << rank << " n_in " << n_in;
          }
          for (int64_t o = 0; o < n_out; ++o) {
            double want = y0[static_cast<size_t>(c * n_out + o)], mag = std::fabs(want);
            if (o >= o0 && o < o1)
              for (int64_t j = 0; j < rank; ++j) {
                const double term = static_cast<double>(fx.b[static_cast<size_t>(o * rank + j)]) * u[static_cast<size_t>(c * rank + j)];
                want += term;
                mag += std::fabs(term);
              }
            ASSERT_NEAR(y[static_cast<size_t>(c * n_out + o)], want, 1e-5 * mag + 1e-6)
                << "up rank " << rank << " n_out " << n_out << " row " << o << " column " << c << " of " << nc;
          }
        }
      }
    }
}

TEST(LoraKernels, ScalarMatchesFloat64) {
  check_path(Isa::Scalar, DType::F32);
  check_path(Isa::Scalar, DType::F16);
}

TEST(LoraKernels, Avx2MatchesFloat64) {
  if (!isa_available(Isa::Avx2)) GTEST_SKIP() << "no AVX2+FMA+F16C (or HELIX_FORCE_SCALAR)";
  check_path(Isa::Avx2, DType::F32);
  check_path(Isa::Avx2, DType::F16);
}

TEST(LoraKernels, RefusesOtherFactorTypes) {
  LoraFactors f{DType::Q8_0, nullptr, nullptr, 1, 1, 1};
  float x = 1, u = 0;
  EXPECT_THROW(lora_down(f, &x, 1, 1, &u, 1), Error);
}

// matmul_many's RowsDone: each output row of each weight exactly once, with the row's product
// already in y; for decode (1 and 3 tokens: per row tile, inside the parallel region) and for a
// longer batch (6 tokens: once at the end), on packed Q8_0 and row-tiled F32/Q4_K weights; and
// its pre tasks (LoRA's A·x) each run once, all of them before the first RowsDone call.
TEST(MatmulMany, RowsDoneCoversEveryRowOnceAfterItsProductAndPreTasks) {
  std::mt19937 rng(3);
  for (DType t : {DType::Q8_0, DType::F32, DType::Q4_K})
    for (int64_t n_tok : {1, 3, 6}) {
      const int64_t n_in = 512;
      const std::vector<int64_t> outs{1024, 256, 512};
      std::vector<Tensor> w, y, want;
      std::vector<std::shared_ptr<const PackedWeight>> packed;
      Tensor x = Tensor::empty(DType::F32, {n_in, n_tok});
      std::normal_distribution<float> nd(0.0f, 1.0f);
      for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = nd(rng);
      for (int64_t n_out : outs) {
        w.push_back(testing::random_weights(t, n_in, n_out, rng));
        packed.push_back(pack_weight(w.back()));  // null where the type has no packed form
        y.push_back(Tensor::empty(DType::F32, {n_out, n_tok}));
        want.push_back(Tensor::empty(DType::F32, {n_out, n_tok}));
        matmul(w.back(), x, want.back());
      }
      std::vector<std::vector<std::atomic<int>>> seen;
      for (int64_t n_out : outs) seen.emplace_back(static_cast<size_t>(n_out));
      std::atomic<int> stale{0}, early{0};
      std::vector<std::atomic<int>> pre_ran(13);
      PreTasks pre{static_cast<int64_t>(pre_ran.size()), [&](int64_t task) {
                     std::this_thread::sleep_for(std::chrono::microseconds(task % 3 * 200));  // some finish late
                     ++pre_ran[static_cast<size_t>(task)];
                   }};
      RowsDone done[3];
      for (int i = 0; i < 3; ++i)
        done[i] = [&, i](int64_t r0, int64_t r1) {
          for (const auto& p : pre_ran) early += p.load() == 0;
          for (int64_t r = r0; r < r1; ++r) {
            ++seen[static_cast<size_t>(i)][static_cast<size_t>(r)];
            for (int64_t c = 0; c < n_tok; ++c)
              if (y[static_cast<size_t>(i)].data_as<float>()[c * outs[static_cast<size_t>(i)] + r] !=
                  want[static_cast<size_t>(i)].data_as<float>()[c * outs[static_cast<size_t>(i)] + r])
                ++stale;
          }
        };
      const Tensor* ws[3] = {&w[0], &w[1], &w[2]};
      Tensor* ys[3] = {&y[0], &y[1], &y[2]};
      matmul_many(ws, ys, 3, x, done, &pre);
      EXPECT_EQ(stale.load(), 0) << dtype_name(t) << " " << n_tok << " tokens: a row was handed over before its product";
      EXPECT_EQ(early.load(), 0) << dtype_name(t) << " " << n_tok << " tokens: a row was handed over before the pre tasks";
      for (const auto& p : pre_ran) ASSERT_EQ(p.load(), 1) << dtype_name(t) << " " << n_tok << " tokens";
      for (size_t i = 0; i < 3; ++i)
        for (size_t r = 0; r < seen[i].size(); ++r)
          ASSERT_EQ(seen[i][r].load(), 1) << dtype_name(t) << " " << n_tok << " tokens, weight " << i << " row " << r;
    }
}

}  // namespace
}  // namespace helix::kernels

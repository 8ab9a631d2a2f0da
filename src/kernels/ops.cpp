// Scalar reference row kernels, the tensor-level wrappers (shape checks, rows, threads) and
// get_rows. The AVX2 row kernels live in ops_avx2.cpp.
#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/quant.h"

namespace helix::kernels {
namespace {

// ---- scalar row kernels -------------------------------------------------------------------------

void rmsnorm_ref(const float* x, const float* w, float* y, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float r = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * r * (w ? w[i] : 1.0f);
}

void layernorm_ref(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  const double mean = s / static_cast<double>(n);
  double v = 0;
  for (int64_t i = 0; i < n; ++i) v += (x[i] - mean) * (x[i] - mean);
  const float r = static_cast<float>(1.0 / std::sqrt(v / static_cast<double>(n) + eps));
  const float m = static_cast<float>(mean);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * r * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}

void softmax_ref(const float* x, float* y, int64_t n, float scale) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i] * scale);
  if (m == -std::numeric_limits<float>::infinity()) {
    std::fill(y, y + n, 0.0f);
    return;
  }
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = std::exp(x[i] * scale - m);
    sum += y[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) y[i] *= inv;
}

void gelu_ref(const float* x, float* y, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
  }
}

void silu_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void add_ref(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void mul_ref(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

constexpr RowOps kRefOps = {rmsnorm_ref, layernorm_ref, softmax_ref, gelu_ref,
                            silu_ref,    add_ref,       mul_ref};

// ---- tensor plumbing ----------------------------------------------------------------------------

float* frow(Tensor& t, int64_t r) {
  return reinterpret_cast<float*>(
      t.row(r % t.ne(1), r / t.ne(1) % t.ne(2), r / (t.ne(1) * t.ne(2))));
}
const float* frow(const Tensor& t, int64_t r) {
  return reinterpret_cast<const float*>(
      t.row(r % t.ne(1), r / t.ne(1) % t.ne(2), r / (t.ne(1) * t.ne(2))));
}

void check_f32_rows(const Tensor& t, const char* op, const char* name) {
  HELIX_CHECK(t.dtype() == DType::F32 && t.device() == Device::CPU, op, ": ", name,
              " must be an F32 tensor on the CPU");
  HELIX_CHECK(t.nb(0) == sizeof(float), op, ": rows of ", name, " must be contiguous");
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  HELIX_CHECK(a.shape() == b.shape(), op, ": shapes ", a.shape_str(), " and ", b.shape_str(),
              " differ");
}

const float* optional_row(const Tensor& w, int64_t n, const char* op, const char* name) {
  if (w.data() == nullptr) return nullptr;
  check_f32_rows(w, op, name);
  HELIX_CHECK(w.ne(0) == n && w.nrows() == 1, op, ": ", name, " must be one row of ", n,
              " values, got ", w.shape_str());
  return w.data_as<float>();
}

// fn(row) for every row, spread over the pool when the tensor is big enough to pay for it.
void for_rows(int64_t n_rows, int64_t n, const std::function<void(int64_t)>& fn) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1));
  if (n_rows <= grain) {
    for (int64_t r = 0; r < n_rows; ++r) fn(r);
    return;
  }
  ThreadPool::global().parallel_for(n_rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) fn(r);
  });
}

void unary(const Tensor& x, Tensor& y, const char* op, void (*f)(const float*, float*, int64_t)) {
  check_f32_rows(x, op, "x");
  check_f32_rows(y, op, "y");
  check_same_shape(x, y, op);
  const int64_t n = x.ne(0);
  for_rows(x.nrows(), n, [&](int64_t r) { f(frow(x, r), frow(y, r), n); });
}

void binary(const Tensor& a, const Tensor& b, Tensor& y, const char* op,
            void (*f)(const float*, const float*, float*, int64_t)) {
  check_f32_rows(a, op, "a");
  check_f32_rows(b, op, "b");
  check_f32_rows(y, op, "y");
  check_same_shape(a, y, op);
  HELIX_CHECK(b.ne(0) == a.ne(0) && (b.nrows() == 1 || b.shape() == a.shape()), op, ": b ",
              b.shape_str(), " is neither a's shape ", a.shape_str(), " nor one row of it");
  const int64_t n = a.ne(0);
  const bool bcast = b.nrows() == 1;
  for_rows(a.nrows(), n, [&](int64_t r) { f(frow(a, r), frow(b, bcast ? 0 : r), frow(y, r), n); });
}

}  // namespace

const RowOps& row_ops(Isa isa) {
  if (isa == Isa::Scalar) return kRefOps;
  HELIX_CHECK(isa_available(isa), "this CPU cannot run the ", isa_name(isa), " kernels");
  return row_ops_avx2();
}

const RowOps& row_ops() {
  static const RowOps& ops = row_ops(best_isa());
  return ops;
}

void rmsnorm(const Tensor& x, const Tensor& w, Tensor& y, float eps) {
  check_f32_rows(x, "rmsnorm", "x");
  check_f32_rows(y, "rmsnorm", "y");
  check_same_shape(x, y, "rmsnorm");
  const int64_t n = x.ne(0);
  const float* wr = optional_row(w, n, "rmsnorm", "w");
  const auto f = row_ops().rmsnorm;
  for_rows(x.nrows(), n, [&](int64_t r) { f(frow(x, r), wr, frow(y, r), n, eps); });
}

void layernorm(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, float eps) {
  check_f32_rows(x, "layernorm", "x");
  check_f32_rows(y, "layernorm", "y");
  check_same_shape(x, y, "layernorm");
  const int64_t n = x.ne(0);
  const float* wr = optional_row(w, n, "layernorm", "w");
  const float* br = optional_row(b, n, "layernorm", "b");
  const auto f = row_ops().layernorm;
  for_rows(x.nrows(), n, [&](int64_t r) { f(frow(x, r), wr, br, frow(y, r), n, eps); });
}

void softmax(const Tensor& x, Tensor& y, float scale) {
  check_f32_rows(x, "softmax", "x");
  check_f32_rows(y, "softmax", "y");
  check_same_shape(x, y, "softmax");
  const int64_t n = x.ne(0);
  const auto f = row_ops().softmax;
  for_rows(x.nrows(), n, [&](int64_t r) { f(frow(x, r), frow(y, r), n, scale); });
}

void gelu(const Tensor& x, Tensor& y) { unary(x, y, "gelu", row_ops().gelu); }
void silu(const Tensor& x, Tensor& y) { unary(x, y, "silu", row_ops().silu); }
void add(const Tensor& a, const Tensor& b, Tensor& y) { binary(a, b, y, "add", row_ops().add); }
void mul(const Tensor& a, const Tensor& b, Tensor& y) { binary(a, b, y, "mul", row_ops().mul); }

void get_rows(const Tensor& table, const Tensor& ids, Tensor& out) {
  HELIX_CHECK(quant::can_dequantize(table.dtype()), "get_rows: cannot read rows of type ",
              dtype_name(table.dtype()));
  HELIX_CHECK(table.nb(0) == dtype_type_size(table.dtype()),
              "get_rows: table rows must be contiguous");
  HELIX_CHECK(ids.dtype() == DType::I32 && ids.is_contiguous(),
              "get_rows: ids must be contiguous I32");
  check_f32_rows(out, "get_rows", "out");
  const int64_t n = table.ne(0), n_ids = ids.numel();
  HELIX_CHECK(out.ne(0) == n && out.nrows() == n_ids, "get_rows: out is ", out.shape_str(),
              ", expected [", n, ", ", n_ids, "]");
  const int32_t* id = ids.data_as<int32_t>();
  for (int64_t i = 0; i < n_ids; ++i)
    HELIX_CHECK(id[i] >= 0 && id[i] < table.ne(1), "get_rows: id ", id[i], " is out of range [0, ",
                table.ne(1), ")");
  for_rows(n_ids, n, [&](int64_t i) {
    quant::dequantize_row(table.dtype(), table.row(id[i]), frow(out, i), n);
  });
}

}  // namespace helix::kernels

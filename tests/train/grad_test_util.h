// Helpers of the finite-difference gradient tests (test_ops_grad.cpp, test_linear_grad.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace helix::train {

using Vec = std::vector<double>;

inline std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline Vec to_d(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }

// Central differences of the scalar f at x (double).
inline Vec numeric_grad(const std::function<double(const Vec&)>& f, Vec x, double h = 1e-5) {
  Vec g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double fp = f(x);
    x[i] = x0 - h;
    const double fm = f(x);
    x[i] = x0;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

// max |got − want| ≤ tol · max(1, max |want|)
inline void expect_close(const std::vector<float>& got, const Vec& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double mx = 1e-12, err = 0;
  size_t worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    mx = std::max(mx, std::abs(want[i]));
    const double e = std::abs(got[i] - want[i]);
    if (e > err) err = e, worst = i;
  }
  EXPECT_LE(err, tol * std::max(1.0, mx)) << what << ": worst at " << worst << " got " << got[worst] << " want "
                                          << want[worst] << " (max |want| " << mx << ")";
}

}  // namespace helix::train

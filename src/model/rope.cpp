#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace helix::model {
namespace {

template <typename P>
void cos_sin(const HParams& hp, float base, float scale, const P* pos, int64_t n, float* cs) {
  const int64_t half = hp.n_rot / 2;
  // Per pair: the unscaled frequency (over the frequency factors, if any) and the share of it
  // that the YaRN ramp keeps unscaled (0 without YaRN: plain linear scaling).
  const RopeScaling& rs = hp.rope_scaling;
  float corr[2] = {0, 0};
  if (rs.ext_factor != 0) rs.corr_dims(hp.n_rot, base, corr);
  std::vector<double> inv(static_cast<size_t>(half)), keep(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const auto u = static_cast<size_t>(i);
    inv[u] = std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(hp.n_rot));
    if (!hp.rope_freq_factors.empty()) inv[u] /= hp.rope_freq_factors[u];
    const double y = (static_cast<double>(i) - corr[0]) / std::max(0.001, static_cast<double>(corr[1] - corr[0]));
    keep[u] = rs.ext_factor != 0 ? (1.0 - std::clamp(y, 0.0, 1.0)) * rs.ext_factor : 0.0;
  }
  const double mscale = rs.mscale(scale);
  for (int64_t t = 0; t < n; ++t) {
    const auto p = static_cast<double>(pos[t]);
    float* c = cs + t * 2 * half;
    for (int64_t i = 0; i < half; ++i) {
      const auto u = static_cast<size_t>(i);
      const double extrap = p * inv[u];
      const double theta = extrap * scale * (1.0 - keep[u]) + extrap * keep[u];
      c[i] = static_cast<float>(std::cos(theta) * mscale);
      c[half + i] = static_cast<float>(std::sin(theta) * mscale);
    }
  }
}

}  // namespace

void rope_cos_sin(const HParams& hp, float base, float scale, const int64_t* pos, int64_t n, float* cs) {
  cos_sin(hp, base, scale, pos, n, cs);
}
void rope_cos_sin(const HParams& hp, float base, float scale, const int32_t* pos, int64_t n, float* cs) {
  cos_sin(hp, base, scale, pos, n, cs);
}

}  // namespace helix::model

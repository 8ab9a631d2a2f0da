// RoPE angles (model/rope.h) against the formulas written out in double: plain and linear
// scaling, frequency factors, YaRN's correction dims, ramp and magnitude; and the RoPE keys read
// from a file, with unsupported scaling types refused.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include <unistd.h>

#include "core/error.h"
#include "io/gguf.h"
#include "model/hparams.h"
#include "model/rope.h"
#include "model/tiny.h"

namespace helix::model {
namespace {

HParams rope_hp(int64_t n_rot) {
  HParams hp;
  hp.n_rot = hp.head_dim = n_rot;
  hp.rope_scaling.orig_ctx = 256;
  return hp;
}

std::vector<float> angles(const HParams& hp, float base, float scale, int64_t pos) {
  std::vector<float> cs(static_cast<size_t>(hp.n_rot));
  rope_cos_sin(hp, base, scale, &pos, 1, cs.data());
  return cs;
}

TEST(Rope, LinearScalingAndFrequencyFactors) {
  HParams hp = rope_hp(8);
  hp.rope_freq_factors = {1.0f, 2.0f, 4.0f, 8.0f};
  const auto cs = angles(hp, 10000.0f, 0.5f, 37);
  for (int i = 0; i < 4; ++i) {
    const double theta = 37 * 0.5 * std::pow(10000.0, -2.0 * i / 8) / hp.rope_freq_factors[static_cast<size_t>(i)];
    EXPECT_NEAR(cs[static_cast<size_t>(i)], std::cos(theta), 1e-6) << i;
    EXPECT_NEAR(cs[static_cast<size_t>(4 + i)], std::sin(theta), 1e-6) << i;
  }
}

TEST(Rope, YarnRampAndMagnitude) {
  HParams hp = rope_hp(64);
  RopeScaling& rs = hp.rope_scaling;
  rs.type = RopeScaling::Type::Yarn;
  rs.ext_factor = 1.0f;
  float dims[2];
  rs.corr_dims(64, 100.0f, dims);
  // 64 ln(256 / (2 pi beta)) / (2 ln 100): 1.68 for beta 32 (floor 1), 25.8 for beta 1 (ceil 26).
  EXPECT_EQ(dims[0], 1.0f);
  EXPECT_EQ(dims[1], 26.0f);
  const float scale = 0.25f;
  const auto cs = angles(hp, 100.0f, scale, 50);
  const double mscale = 1.0 + 0.1 * std::log(4.0);
  for (int i = 0; i < 32; ++i) {
    const double ramp = std::min(1.0, std::max(0.0, (i - 1.0) / 25.0));  // 0: keep, 1: interpolate
    const double inv = std::pow(100.0, -2.0 * i / 64);
    const double theta = 50 * inv * (ramp * scale + (1 - ramp));
    EXPECT_NEAR(cs[static_cast<size_t>(i)], mscale * std::cos(theta), 2e-6) << i;
    EXPECT_NEAR(cs[static_cast<size_t>(32 + i)], mscale * std::sin(theta), 2e-6) << i;
  }
  // A layer without position scaling (sliding-window) gets neither the ramp nor the magnitude.
  const auto plain = angles(hp, 100.0f, 1.0f, 50);
  EXPECT_NEAR(plain[3], std::cos(50 * std::pow(100.0, -6.0 / 64)), 1e-6);
}

std::string tiny_with(const std::vector<std::string>& kv, bool rope_freqs) {
  TinySpec s;
  s.n_layer = 1;
  s.extra_kv = kv;
  s.rope_freqs = rope_freqs;
  const auto path = (std::filesystem::temp_directory_path() / ("helix_rope_" + std::to_string(getpid()) + ".gguf")).string();
  write_tiny_model(s, path);
  return path;
}

TEST(Rope, KeysReadFromTheFile) {
  const std::string path = tiny_with({"llama.rope.scaling.type=str:yarn", "llama.rope.scaling.factor=f32:8",
                                      "llama.rope.scaling.original_context_length=u32:512",
                                      "llama.rope.scaling.yarn_beta_fast=f32:16", "llama.rope.scaling.attn_factor=f32:0.5"},
                                     true);
  const HParams hp = read_decoder_hparams(gguf::GGUFFile::open(path));
  std::filesystem::remove(path);
  EXPECT_EQ(hp.rope_scaling.type, RopeScaling::Type::Yarn);
  EXPECT_FLOAT_EQ(hp.rope_scale, 0.125f);
  EXPECT_EQ(hp.rope_scaling.orig_ctx, 512);
  EXPECT_FLOAT_EQ(hp.rope_scaling.ext_factor, 1.0f);
  EXPECT_FLOAT_EQ(hp.rope_scaling.beta_fast, 16.0f);
  EXPECT_FLOAT_EQ(hp.rope_scaling.beta_slow, 1.0f);
  EXPECT_FLOAT_EQ(hp.rope_scaling.mscale(0.125f), 0.5f * (1.0f + 0.1f * std::log(8.0f)));
  ASSERT_EQ(hp.rope_freq_factors.size(), 32u);
  EXPECT_FLOAT_EQ(hp.rope_freq_factors.front(), 1.0f);
  EXPECT_FLOAT_EQ(hp.rope_freq_factors.back(), 8.0f);
}

TEST(Rope, UnsupportedScalingTypeIsRefused) {
  const std::string path = tiny_with({"llama.rope.scaling.type=str:longrope"}, false);
  const auto f = gguf::GGUFFile::open(path);
  std::filesystem::remove(path);
  try {
    read_decoder_hparams(f);
    FAIL() << "longrope accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'longrope'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("supported: none, linear, yarn"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace helix::model

#include "model/hparams.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "core/error.h"
#include "quant/quant.h"

namespace helix::model {
namespace {

// "<arch>.<key>" spelled once.
std::string key(const std::string& arch, const char* k) { return arch + "." + k; }

int64_t require_int(const gguf::GGUFFile& f, const std::string& k) {
  const gguf::Value* v = f.find(k);
  HELIX_CHECK(v, "model file '", f.path(), "' lacks the hyper-parameter '", k,
              "'; the file is incomplete or was converted for a different program");
  HELIX_CHECK(v->is_integer(), "hyper-parameter '", k, "' should be an integer but is ",
              gguf::value_type_name(v->type()));
  const int64_t n = v->as_int();
  HELIX_CHECK(n > 0, "hyper-parameter '", k, "' is ", n, "; it must be positive");
  return n;
}

int64_t optional_int(const gguf::GGUFFile& f, const std::string& k, int64_t fallback) {
  return f.find(k) ? require_int(f, k) : fallback;
}

float optional_float(const gguf::GGUFFile& f, const std::string& k, double fallback) {
  const double v = f.get_float(k, fallback);
  HELIX_CHECK(std::isfinite(v), "hyper-parameter '", k, "' is ", v, "; it must be a finite number");
  return static_cast<float>(v);
}

// "<arch>.rope.scaling.*" as llama.cpp reads them: the type (default linear), the factor (0 or
// absent: 1), and for yarn the ramp (ext_factor 1 unless given, betas 32 and 1) and the magnitude
// correction, which llama.cpp sets so that a layer whose positions are scaled by 1/factor gets
// cos and sin times (1 + 0.1 ln factor) * rope.scaling.attn_factor.
void read_rope_scaling(const gguf::GGUFFile& f, HParams& hp) {
  const std::string& a = hp.arch;
  RopeScaling& rs = hp.rope_scaling;
  const std::string type = f.get_string(key(a, "rope.scaling.type"), "linear");
  if (type == "none") rs.type = RopeScaling::Type::None;
  else if (type == "linear") rs.type = RopeScaling::Type::Linear;
  else if (type == "yarn") rs.type = RopeScaling::Type::Yarn;
  else throw Error(cat("model file '", f.path(), "' uses RoPE scaling type '", type, "' (", key(a, "rope.scaling.type"),
                       "), which Helix does not run; supported: none, linear, yarn"));
  double factor = optional_float(f, key(a, "rope.scaling.factor"), 0.0);
  if (!f.find(key(a, "rope.scaling.factor"))) factor = optional_float(f, key(a, "rope.scale_linear"), 0.0);
  HELIX_CHECK(factor >= 0, "hyper-parameter '", key(a, "rope.scaling.factor"), "' is ", factor, "; it must be positive");
  hp.rope_scale = (factor > 0 && rs.type != RopeScaling::Type::None) ? static_cast<float>(1.0 / factor) : 1.0f;
  rs.orig_ctx = optional_int(f, key(a, "rope.scaling.original_context_length"), hp.n_ctx_train);
  const bool yarn = rs.type == RopeScaling::Type::Yarn;
  rs.ext_factor = optional_float(f, key(a, "rope.scaling.yarn_ext_factor"), yarn ? 1.0 : 0.0);
  rs.beta_fast = optional_float(f, key(a, "rope.scaling.yarn_beta_fast"), 32.0);
  rs.beta_slow = optional_float(f, key(a, "rope.scaling.yarn_beta_slow"), 1.0);
  const float attn = optional_float(f, key(a, "rope.scaling.attn_factor"), 1.0);
  if (rs.ext_factor != 0) {
    // llama.cpp: get_mscale(factor) / (1 + 0.1 ln factor); the rope op multiplies the second
    // factor back in per layer (RopeScaling::mscale).
    const double fct = 1.0 / hp.rope_scale;
    const double m = fct <= 1.0 ? 1.0 : 1.0 + 0.1 * std::log(fct);
    rs.attn_factor = static_cast<float>(m / (1.0 + 0.1 * std::log(fct)) * attn);
  } else {
    rs.attn_factor = optional_float(f, key(a, "rope.scaling.yarn_attn_factor"), 1.0) * attn;
  }
}

// rope_freqs.weight: n_rot/2 positive divisors of the pairs' frequencies (Llama 3.1's "llama3"
// RoPE scaling, precomputed by the converter).
void read_rope_freqs(const gguf::GGUFFile& f, HParams& hp) {
  const gguf::TensorInfo* info = f.find_tensor("rope_freqs.weight");
  if (!info) return;
  const int64_t half = hp.n_rot / 2;
  HELIX_CHECK(info->n_dims == 1 && info->ne[0] == half, "tensor 'rope_freqs.weight' in '", f.path(), "' has ",
              info->ne[0], " values; it needs one per RoPE pair (rope.dimension_count / 2 = ", half, ")");
  HELIX_CHECK(quant::can_dequantize(info->type), "tensor 'rope_freqs.weight' has type ", dtype_name(info->type),
              ", which Helix cannot read");
  hp.rope_freq_factors.resize(static_cast<size_t>(half));
  quant::dequantize_row(info->type, f.tensor_data(*info), hp.rope_freq_factors.data(), half);
  for (float v : hp.rope_freq_factors)
    HELIX_CHECK(std::isfinite(v) && v > 0, "tensor 'rope_freqs.weight' holds ", v, "; frequency factors must be positive");
}

}  // namespace

float RopeScaling::mscale(float scale) const {
  if (ext_factor == 0) return attn_factor;
  return attn_factor * (1.0f + 0.1f * std::log(1.0f / scale));
}

void RopeScaling::corr_dims(int64_t n_rot, float base, float dims[2]) const {
  // The pair index whose wavelength fits `rotations` times into orig_ctx.
  const auto dim = [&](float rotations) {
    return static_cast<float>(n_rot) * std::log(static_cast<float>(orig_ctx) / (rotations * 2.0f * std::numbers::pi_v<float>)) /
           (2.0f * std::log(base));
  };
  dims[0] = std::max(0.0f, std::floor(dim(beta_fast)));
  dims[1] = std::min(static_cast<float>(n_rot - 1), std::ceil(dim(beta_slow)));
}

void check_no_unused_tensors(const gguf::GGUFFile& f, const std::vector<std::string>& used) {
  const std::set<std::string> names(used.begin(), used.end());
  for (const gguf::TensorInfo& t : f.tensors()) {
    if (t.name == "rope_freqs.weight" || names.count(t.name)) continue;
    throw Error(cat("model file '", f.path(), "' has the tensor '", t.name, "', which Helix's ", f.architecture(),
                    " model does not use: the file is a variant of the architecture that Helix does not run yet"));
  }
}

HParams read_decoder_hparams(const gguf::GGUFFile& f) {
  HParams hp;
  hp.arch = f.architecture();
  HELIX_CHECK(!hp.arch.empty(), "model file '", f.path(), "' has no general.architecture");
  const std::string& a = hp.arch;
  hp.n_embd = require_int(f, key(a, "embedding_length"));
  hp.n_layer = require_int(f, key(a, "block_count"));
  hp.n_ff = require_int(f, key(a, "feed_forward_length"));
  hp.n_head = require_int(f, key(a, "attention.head_count"));
  hp.n_head_kv = optional_int(f, key(a, "attention.head_count_kv"), hp.n_head);
  hp.n_ctx_train = optional_int(f, key(a, "context_length"), 4096);
  const int64_t hd_k = optional_int(f, key(a, "attention.key_length"), hp.n_embd / hp.n_head);
  const int64_t hd_v = optional_int(f, key(a, "attention.value_length"), hd_k);
  HELIX_CHECK(hd_k == hd_v, "key head size ", hd_k, " differs from value head size ", hd_v,
              "; Helix needs them equal");
  hp.head_dim = hd_k;
  HELIX_CHECK(hp.n_head % hp.n_head_kv == 0, "attention.head_count ", hp.n_head,
              " is not a multiple of attention.head_count_kv ", hp.n_head_kv);
  hp.n_rot = optional_int(f, key(a, "rope.dimension_count"), hp.head_dim);
  HELIX_CHECK(hp.n_rot <= hp.head_dim && hp.n_rot % 2 == 0, "rope.dimension_count ", hp.n_rot,
              " must be even and at most the head size ", hp.head_dim);
  hp.norm_eps = static_cast<float>(f.get_float(key(a, "attention.layer_norm_rms_epsilon"), 1e-5));
  hp.rope_base = static_cast<float>(f.get_float(key(a, "rope.freq_base"), 10000.0));
  read_rope_scaling(f, hp);
  read_rope_freqs(f, hp);
  hp.final_logit_softcap = static_cast<float>(f.get_float(key(a, "final_logit_softcapping"), 0.0));
  hp.swa_layers.assign(static_cast<size_t>(hp.n_layer), false);
  if (const gguf::Value* tokens = f.find("tokenizer.ggml.tokens")) hp.n_vocab = static_cast<int64_t>(tokens->size());
  return hp;
}

HParams decoder_hparams(const gguf::GGUFFile& f) {
  HParams hp = read_decoder_hparams(f);
  const std::string& a = hp.arch;
  hp.rope_style = a == "qwen2" || a == "gemma3" ? RopeStyle::Neox : RopeStyle::Norm;
  if (a == "gemma3") {
    hp.n_swa = static_cast<int64_t>(f.get_uint("gemma3.attention.sliding_window", 0));
    constexpr int kPattern = 6;  // il % 6 < 5: sliding window
    for (int64_t il = 0; il < hp.n_layer; ++il) hp.swa_layers[static_cast<size_t>(il)] = il % kPattern < kPattern - 1;
    hp.rope_base_swa = 10000.0f;
    hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  }
  return hp;
}

}  // namespace helix::model

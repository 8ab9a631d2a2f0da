#include "model/hparams.h"

#include <cmath>

#include "core/error.h"

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

}  // namespace

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
  const double factor = f.get_float(key(a, "rope.scaling.factor"), 1.0);
  const std::string scaling = f.get_string(key(a, "rope.scaling.type"), "linear");
  HELIX_CHECK(factor == 1.0 || factor == 0.0 || scaling == "linear", "rope scaling type '", scaling,
              "' is not supported yet (only linear)");
  hp.rope_scale = (factor > 0) ? static_cast<float>(1.0 / factor) : 1.0f;
  hp.final_logit_softcap = static_cast<float>(f.get_float(key(a, "final_logit_softcapping"), 0.0));
  hp.swa_layers.assign(static_cast<size_t>(hp.n_layer), false);
  if (const gguf::Value* tokens = f.find("tokenizer.ggml.tokens")) hp.n_vocab = static_cast<int64_t>(tokens->size());
  return hp;
}

}  // namespace helix::model

// Session: one model, its tokenizer and a KV cache holding one sequence, for the command line
// (`helix run`, `helix chat`, `helix perplexity`). Prompts are fed in chunks of n_batch tokens;
// feeding a token list that shares a prefix with what the cache holds reuses that prefix, so a
// chat turn only computes the new tokens. Generation streams text through a callback, holding
// back bytes of unfinished UTF-8 characters and text that may be the start of a stop string.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace helix::runtime {

struct GenerateOptions {
  int64_t max_tokens = -1;  // -1: until end of generation or a full context
  std::vector<std::string> stop;
  SamplingParams sampling;
  bool render_special = false;  // control tokens come out as their text (tool-call markers of some families)
};

enum class FinishReason { Stop, Length, ContextFull, Cancelled };
const char* finish_reason_name(FinishReason r);

struct Timing {
  int64_t prefill_tokens = 0;
  double prefill_s = 0;
  int64_t decode_tokens = 0;
  double decode_s = 0;
};

class Session {
 public:
  Session(std::shared_ptr<model::Model> model, std::shared_ptr<tok::Tokenizer> tokenizer, int64_t n_ctx,
          int64_t n_batch = 512);

  model::Model& model() { return *model_; }
  const tok::Tokenizer& tokenizer() const { return *tok_; }
  int64_t n_ctx() const { return n_ctx_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }

  // Makes the cache hold exactly `tokens`, computing only what differs from what it holds, and
  // leaves the logits of the last token ready for generate(). Throws if they exceed the context.
  void set_tokens(const std::vector<int32_t>& tokens);
  // Logits of every position of `tokens` (fed from an empty cache), for perplexity.
  void all_logits(const std::vector<int32_t>& tokens, std::vector<float>& out);

  // Samples after the current tokens until an end-of-generation token, a stop string, the token
  // limit, a full context or `cancel`. on_text gets each piece of text as it becomes final.
  FinishReason generate(const GenerateOptions& opt, const std::function<void(const std::string&)>& on_text,
                        const std::atomic<bool>* cancel = nullptr);

  const Timing& timing() const { return timing_; }
  void reset_timing() { timing_ = {}; }

 private:
  void feed(const std::vector<int32_t>& toks, size_t from);

  std::shared_ptr<model::Model> model_;
  std::shared_ptr<tok::Tokenizer> tok_;
  int64_t n_ctx_, n_batch_;
  model::KVCache kv_;
  std::vector<int32_t> tokens_;
  std::vector<float> last_logits_;
  Timing timing_;
};

// The chat template text for a model: its own tokenizer.chat_template, else a built-in one for
// its family (Gemma's turn markers for gemma*), else the documented ChatML fallback.
std::string chat_template_for(const gguf::GGUFFile& f);

}  // namespace helix::runtime

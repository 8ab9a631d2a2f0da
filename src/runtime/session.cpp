#include "runtime/session.h"

#include <algorithm>

#include "chat/template.h"
#include "core/error.h"

namespace helix::runtime {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::ContextFull: return "context_full";
    case FinishReason::Cancelled: return "cancelled";
  }
  return "?";
}

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Session::Session(std::shared_ptr<model::Model> model, std::shared_ptr<tok::Tokenizer> tokenizer, int64_t n_ctx,
                 int64_t n_batch)
    : model_(std::move(model)), tok_(std::move(tokenizer)), n_ctx_(n_ctx), n_batch_(std::max<int64_t>(1, n_batch)),
      kv_(model_->hparams(), n_ctx, 1, n_batch_) {}

void Session::feed(const std::vector<int32_t>& toks, size_t from) {
  const auto t0 = std::chrono::steady_clock::now();
  model::Batch b;
  for (size_t start = from; start < toks.size(); start += static_cast<size_t>(n_batch_)) {
    const size_t end = std::min(toks.size(), start + static_cast<size_t>(n_batch_));
    b.clear();
    for (size_t i = start; i < end; ++i) b.add(toks[i], static_cast<int64_t>(i), 0, i + 1 == end);
    model_->forward(b, kv_, last_logits_);
    tokens_.insert(tokens_.end(), toks.begin() + static_cast<std::ptrdiff_t>(start),
                   toks.begin() + static_cast<std::ptrdiff_t>(end));
  }
  if (toks.size() - from > 1) {
    timing_.prefill_tokens += static_cast<int64_t>(toks.size() - from);
    timing_.prefill_s += seconds_since(t0);
  }
}

void Session::set_tokens(const std::vector<int32_t>& toks) {
  HELIX_CHECK(!toks.empty(), "nothing to feed: the prompt is empty");
  HELIX_CHECK(static_cast<int64_t>(toks.size()) < n_ctx_, "the prompt has ", toks.size(),
              " tokens but the context holds ", n_ctx_, "; shorten it or raise the context size (-c)");
  size_t common = 0;
  while (common < toks.size() && common < tokens_.size() && toks[common] == tokens_[common]) ++common;
  if (common == toks.size()) --common;  // recompute the last token to get its logits
  if (!kv_.can_resume_at(0, static_cast<int64_t>(common))) common = 0;
  kv_.truncate(0, static_cast<int64_t>(common));
  tokens_.resize(common);
  feed(toks, common);
}

void Session::all_logits(const std::vector<int32_t>& toks, std::vector<float>& out) {
  HELIX_CHECK(static_cast<int64_t>(toks.size()) <= n_ctx_, "chunk of ", toks.size(), " tokens exceeds the context ", n_ctx_);
  kv_.truncate(0, 0);
  tokens_.clear();
  const int64_t V = model_->hparams().n_vocab;
  out.assign(toks.size() * static_cast<size_t>(V), 0.0f);
  model::Batch b;
  std::vector<float> logits;
  for (size_t start = 0; start < toks.size(); start += static_cast<size_t>(n_batch_)) {
    const size_t end = std::min(toks.size(), start + static_cast<size_t>(n_batch_));
    b.clear();
    for (size_t i = start; i < end; ++i) b.add(toks[i], static_cast<int64_t>(i), 0, true);
    model_->forward(b, kv_, logits);
    std::copy(logits.begin(), logits.end(), out.begin() + static_cast<std::ptrdiff_t>(start * static_cast<size_t>(V)));
  }
  tokens_ = toks;
}

FinishReason Session::generate(const GenerateOptions& opt, const std::function<void(const std::string&)>& on_text,
                               const std::atomic<bool>* cancel) {
  HELIX_CHECK(!tokens_.empty() && !last_logits_.empty(), "generate() needs a prompt first");
  Sampler sampler(opt.sampling);
  tok::StreamDecoder dec(*tok_, opt.render_special);
  const int64_t V = model_->hparams().n_vocab;
  std::string held;  // text not yet shown because it may begin a stop string
  size_t max_stop = 0;
  for (const auto& s : opt.stop) max_stop = std::max(max_stop, s.size());
  auto emit = [&](const std::string& piece, bool final) -> bool {
    held += piece;
    for (const auto& s : opt.stop) {
      if (s.empty()) continue;
      const size_t at = held.find(s);
      if (at != std::string::npos) {
        if (at > 0) on_text(held.substr(0, at));
        held.clear();
        return true;
      }
    }
    size_t keep = final ? 0 : std::min(held.size(), max_stop > 0 ? max_stop - 1 : 0);
    // Only hold back a tail that is a prefix of some stop string.
    while (keep > 0) {
      const std::string tail = held.substr(held.size() - keep);
      bool prefix = false;
      for (const auto& s : opt.stop) prefix = prefix || s.compare(0, tail.size(), tail) == 0;
      if (prefix) break;
      --keep;
    }
    if (held.size() > keep) {
      on_text(held.substr(0, held.size() - keep));
      held.erase(0, held.size() - keep);
    }
    return false;
  };

  const int64_t prompt_len = static_cast<int64_t>(tokens_.size());
  FinishReason reason = FinishReason::Length;
  const auto t0 = std::chrono::steady_clock::now();
  int64_t produced = 0;
  for (;;) {
    if (cancel && cancel->load()) {
      reason = FinishReason::Cancelled;
      break;
    }
    if (opt.max_tokens >= 0 && produced >= opt.max_tokens) {
      reason = FinishReason::Length;
      break;
    }
    if (static_cast<int64_t>(tokens_.size()) >= n_ctx_) {
      reason = FinishReason::ContextFull;
      break;
    }
    const int32_t id = sampler.sample(last_logits_.data() + (last_logits_.size() - static_cast<size_t>(V)), V, tokens_);
    ++produced;
    if (tok_->is_eog(id)) {
      reason = FinishReason::Stop;
      break;
    }
    if (emit(dec.push(id), false)) {
      reason = FinishReason::Stop;
      // The stop string's tokens stay in the cache; the caller's next set_tokens trims them.
      model::Batch b;
      b.add(id, static_cast<int64_t>(tokens_.size()), 0, true);
      model_->forward(b, kv_, last_logits_);
      tokens_.push_back(id);
      break;
    }
    model::Batch b;
    b.add(id, static_cast<int64_t>(tokens_.size()), 0, true);
    model_->forward(b, kv_, last_logits_);
    tokens_.push_back(id);
  }
  if (reason != FinishReason::Stop || held.size() > 0) emit(dec.finish(), true);
  timing_.decode_tokens += static_cast<int64_t>(tokens_.size()) - prompt_len;
  timing_.decode_s += seconds_since(t0);
  return reason;
}

namespace {

// Gemma's turn format (Gemma 2/3 instruction models): a system message is folded into the
// first user turn, the assistant's role is "model".
constexpr const char* kGemmaTemplate =
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{%- if message['content'] is string -%}{{ message['content'] | trim }}"
    "{%- else -%}{%- for part in message['content'] -%}{%- if part['type'] == 'text' -%}{{ part['text'] | trim }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}";

}  // namespace

std::string chat_template_for(const gguf::GGUFFile& f) {
  const std::string own = f.get_string("tokenizer.chat_template", "");
  if (!own.empty()) return own;
  if (f.architecture().rfind("gemma", 0) == 0) return kGemmaTemplate;
  return chat::fallback_chat_template();
}

}  // namespace helix::runtime

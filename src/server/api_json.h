// Request parsing and response building for the OpenAI-compatible routes: reads the fields of a
// request body into engine parameters (checking their types, so a bad field is a 400 naming it)
// and writes completion objects, stream chunks and errors in OpenAI's shapes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/engine.h"

namespace helix::server {

using ojson = nlohmann::ordered_json;

// An error for the client: HTTP status plus OpenAI's error fields.
struct ApiError {
  ApiError(int s, std::string m, std::string t = "invalid_request_error", std::string p = "", std::string c = "")
      : status(s), message(std::move(m)), type(std::move(t)), param(std::move(p)), code(std::move(c)) {}
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;
  std::string code;
};
ojson error_json(const ApiError& e);
// JSON text that never throws on invalid UTF-8 (replaced by U+FFFD).
std::string dump(const ojson& j);

// Bounds on one request body, checked by a counting pass over its text before any JSON value
// is built: a request over a bound costs no more memory than its body, and is refused with 413
// naming the bound (400 for nesting).
struct RequestLimits {
  size_t max_chars = 8u << 20;      // bytes in all strings and keys together
  size_t max_values = 1u << 20;     // JSON values of any kind (containers included)
  size_t max_messages = 1u << 20;   // entries of the top-level "messages" array
  size_t max_parts = 256;           // entries of one message's "content" array
  size_t max_depth = 128;           // arrays and objects inside each other
  std::string chars_reason;         // why max_chars is what it is (said in the error)
  std::string messages_reason;      // why max_messages is what it is
};
// Bounds for the completion routes: what can fit in a context of n_ctx tokens of `tok` (no
// token spells more bytes than the longest vocabulary entry, and every message takes a token).
RequestLimits generation_limits(int64_t n_ctx, const tok::Tokenizer& tok);

// Parses a request body within `limits`: must be a JSON object.
ojson parse_body(const std::string& body, const RequestLimits& limits = RequestLimits{});

// Everything a completion request asks for besides its prompt.
struct RequestSpec {
  GenParams gen;
  int n = 1;
  bool stream = false;
  bool include_usage = false;
  bool logprobs = false;
  std::string model;  // as requested ("" when absent)
};
// Reads the sampling and output fields shared by both completion routes. `chat` selects the
// chat spelling of logprobs (bool + top_logprobs) over the completions one (an int).
// n_vocab > 0: token ids (logit_bias) are checked against the vocabulary. /v1/completions'
// `echo` and `suffix` (fill-in-the-middle) are refused with 400: this server does neither.
RequestSpec parse_spec(const ojson& body, bool chat, bool has_seed_default, uint64_t random_seed,
                       int32_t n_vocab = 0);
// max_tokens against the context (as OpenAI: prompt + max_tokens must fit, else 400 naming the
// numbers); call once the prompt's length is known.
void check_completion_budget(const RequestSpec& spec, int64_t n_ctx, int64_t n_prompt, bool chat);

// Logprobs of generated tokens in each route's shape.
ojson chat_logprobs(const tok::Tokenizer& tok, const std::vector<TokenLogprob>& lps);
ojson completion_logprobs(const tok::Tokenizer& tok, const std::vector<TokenLogprob>& lps, size_t text_offset);

ojson usage_json(int64_t prompt, int64_t completion, int64_t cached);

}  // namespace helix::server

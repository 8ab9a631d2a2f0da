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

// Parses a request body: must be a JSON object.
ojson parse_body(const std::string& body);

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
RequestSpec parse_spec(const ojson& body, bool chat, bool has_seed_default, uint64_t random_seed);

// Logprobs of generated tokens in each route's shape.
ojson chat_logprobs(const tok::Tokenizer& tok, const std::vector<TokenLogprob>& lps);
ojson completion_logprobs(const tok::Tokenizer& tok, const std::vector<TokenLogprob>& lps, size_t text_offset);

ojson usage_json(int64_t prompt, int64_t completion, int64_t cached);

}  // namespace helix::server

// What ChatFile needs from a language model: chat messages in, text out, many requests at once.
// The library only builds prompts and combines answers; the caller supplies the model through
// this interface (server::EngineBackend runs them on the serving engine, several sequences per
// forward step, with its prefix cache), so ChatFile works the same on the command line and in
// the server.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"

namespace helix::chatfile {

using ojson = nlohmann::ordered_json;

struct Request {
  ojson messages = ojson::array();  // OpenAI-style chat messages, rendered with the model's template
  int64_t max_tokens = 256;
  std::shared_ptr<const grammar::Grammar> grammar;  // the reply must match it (null: free text)
  std::vector<std::string> stop;                    // free text ends before any of these
  std::string schema;                               // the grammar's JSON Schema text (names it in cache keys)
  std::function<void(const std::string&)> on_text;  // streams the reply as it is made (optional)
};

struct Reply {
  std::string text;
  std::string finish_reason;  // stop, length, error, ...
  std::string error;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  double seconds = 0;      // submit -> last token
  double first_token_s = 0;  // submit -> first token
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Runs the requests, as many at once as the backend can, and calls on_done(i, reply) from the
  // caller's thread as request i finishes (in any order). Throws when the model cannot run them.
  virtual void run(const std::vector<Request>& reqs, const std::function<void(size_t, const Reply&)>& on_done) = 0;
  // Tokens of a text in the model's vocabulary (for budgets).
  virtual size_t count_tokens(std::string_view text) const = 0;
  // The tokens a rendered prompt of these messages takes.
  virtual size_t prompt_tokens(const ojson& messages) const = 0;
  // Names the model and adapter, so cached partial results are not reused across models.
  virtual std::string model_id() const = 0;
  // Tokens of context per sequence.
  virtual int64_t context() const = 0;
};

}  // namespace helix::chatfile

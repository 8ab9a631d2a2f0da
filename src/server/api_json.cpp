// Request parsing and OpenAI-shaped response pieces (see api_json.h).
#include "server/api_json.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cmath>
#include <optional>

#include "core/error.h"
#include "grammar/grammar.h"

namespace helix::server {

ojson error_json(const ApiError& e) {
  ojson err = {{"message", e.message}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
  if (!e.param.empty()) err["param"] = e.param;
  if (!e.code.empty()) err["code"] = e.code;
  return {{"error", err}};
}

std::string dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

namespace {

// A SAX pass that only counts (strings, values, messages, parts, depth) and stops at the first
// bound crossed; it builds nothing but a stack of one small frame per open container.
class BodyCounter {
 public:
  explicit BodyCounter(const RequestLimits& l) : lim_(l) {}
  std::optional<ApiError> error;

  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(ojson::number_integer_t) { return value(); }
  bool number_unsigned(ojson::number_unsigned_t) { return value(); }
  bool number_float(ojson::number_float_t, const ojson::string_t&) { return value(); }
  bool string(ojson::string_t& s) { return value() && text(s.size()); }
  bool binary(ojson::binary_t&) { return value(); }
  bool key(ojson::string_t& k) {
    if (!stack_.empty()) stack_.back().key = k.size() <= 16 ? k : std::string();
    return text(k.size());
  }
  bool start_object(std::size_t) { return open(false); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(true); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    error = ApiError{400, cat("the request body is not valid JSON: ", e.what())};
    return false;
  }

 private:
  enum class Role : uint8_t { kTop, kMessages, kMessage, kContent, kOther };
  struct Frame {
    Role role;
    std::string key;  // the last key read (objects)
  };

  bool fail(int status, const char* param, const std::string& msg) {
    error = ApiError{status, msg, "invalid_request_error", param, status == 413 ? "request_too_large" : "invalid_value"};
    return false;
  }
  bool text(size_t n) {
    chars_ += n;
    if (chars_ <= lim_.max_chars) return true;
    return fail(413, "", cat("the request holds more than ", lim_.max_chars, " bytes of text", lim_.chars_reason));
  }
  // Counts a value (of any kind) in its container.
  bool value() {
    if (++values_ > lim_.max_values)
      return fail(413, "", cat("the request holds more than ", lim_.max_values, " JSON values; at most ",
                               lim_.max_values, " are accepted"));
    if (stack_.empty()) return true;
    Frame& f = stack_.back();
    if (f.role == Role::kMessages && ++messages_ > lim_.max_messages)
      return fail(413, "messages", cat("'messages' holds more than ", lim_.max_messages, " messages; at most ",
                                       lim_.max_messages, " are accepted", lim_.messages_reason));
    if (f.role == Role::kContent && ++parts_ > lim_.max_parts)
      return fail(413, "messages", cat("a message's 'content' holds more than ", lim_.max_parts,
                                       " parts; at most ", lim_.max_parts, " are accepted"));
    return true;
  }
  bool open(bool array) {
    if (!value()) return false;
    if (stack_.size() >= lim_.max_depth)
      return fail(400, "", cat("the request body nests arrays and objects more than ", lim_.max_depth, " deep"));
    Role role = Role::kOther;
    if (stack_.empty()) {
      role = array ? Role::kOther : Role::kTop;
    } else {
      const Frame& p = stack_.back();
      if (array && p.role == Role::kTop && p.key == "messages") role = Role::kMessages;
      else if (!array && p.role == Role::kMessages) role = Role::kMessage;
      else if (array && p.role == Role::kMessage && p.key == "content") role = Role::kContent;
    }
    if (role == Role::kContent) parts_ = 0;
    stack_.push_back(Frame{role, {}});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  const RequestLimits& lim_;
  std::vector<Frame> stack_;
  size_t chars_ = 0, values_ = 0, messages_ = 0, parts_ = 0;
};

}  // namespace

RequestLimits generation_limits(int64_t n_ctx, const tok::Tokenizer& tok) {
  size_t longest = 1;
  for (int32_t id = 0; id < tok.n_vocab(); ++id) longest = std::max(longest, tok.token_text(id).size());
  RequestLimits l;
  const auto ctx = static_cast<size_t>(std::max<int64_t>(n_ctx, 1));
  // Text beyond ctx * longest cannot fit the context; 64 KiB more for what is not prompt text
  // (schemas, tool definitions the template may leave out, stop strings).
  l.max_chars = ctx * longest + (64u << 10);
  l.chars_reason = cat("; at most ", l.max_chars, " can fit in the model's context of ", n_ctx,
                       " tokens (a token spells at most ", longest, " bytes)");
  l.max_messages = ctx;
  l.messages_reason = cat(" (each takes at least one token of the model's context of ", n_ctx, ")");
  // A prompt of token ids, a logit_bias map and the messages' own fields, with room to spare.
  l.max_values = 8 * ctx + (64u << 10);
  return l;
}

ojson parse_body(const std::string& body, const RequestLimits& limits) {
  BodyCounter counter(limits);
  if (!ojson::sax_parse(body, &counter)) {
    if (counter.error) throw *counter.error;
    throw ApiError{400, "the request body is not valid JSON"};
  }
  ojson j;
  try {
    j = ojson::parse(body);
  } catch (const std::exception& e) {
    throw ApiError{400, cat("the request body is not valid JSON: ", e.what())};
  }
  if (!j.is_object()) throw ApiError{400, "the request body must be a JSON object"};
  return j;
}

namespace {

const ojson* field(const ojson& b, const char* key) {
  auto it = b.find(key);
  if (it == b.end() || it->is_null()) return nullptr;
  return &*it;
}

ApiError bad(const char* key, const std::string& what) { return ApiError{400, cat("'", key, "' ", what), "invalid_request_error", key, "invalid_value"}; }

double number(const ojson& b, const char* key, double def, double lo, double hi) {
  const ojson* v = field(b, key);
  if (!v) return def;
  if (!v->is_number()) throw bad(key, "must be a number");
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) throw bad(key, cat("must be between ", lo, " and ", hi, ", got ", x));
  return x;
}

int64_t integer(const ojson& b, const char* key, int64_t def, int64_t lo, int64_t hi) {
  const ojson* v = field(b, key);
  if (!v) return def;
  if (!v->is_number_integer()) throw bad(key, "must be an integer");
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) throw bad(key, cat("must be between ", lo, " and ", hi, ", got ", x));
  return x;
}

bool boolean(const ojson& b, const char* key, bool def) {
  const ojson* v = field(b, key);
  if (!v) return def;
  if (!v->is_boolean()) throw bad(key, "must be a boolean");
  return v->get<bool>();
}

// response_format: {"type": "text"} (free text), {"type": "json_object"} (any JSON object; an
// optional "schema" as llama.cpp's server accepts), {"type": "json_schema", "json_schema":
// {"name", "schema", "strict"}}. The output always follows the schema, strict or not.
std::shared_ptr<const grammar::Grammar> response_format(const ojson& v) {
  auto fail = [](const std::string& what) {
    return ApiError{400, cat("'response_format' ", what), "invalid_request_error", "response_format", "invalid_value"};
  };
  if (!v.is_object() || !v.contains("type") || !v["type"].is_string())
    throw fail("must be an object with a string 'type'");
  const std::string t = v["type"].get<std::string>();
  const ojson* schema = nullptr;
  if (t == "text") return nullptr;
  if (t == "json_object") {
    schema = field(v, "schema");
  } else if (t == "json_schema") {
    const ojson* js = field(v, "json_schema");
    if (!js || !js->is_object()) throw fail("of type 'json_schema' needs a 'json_schema' object");
    if (const ojson* name = field(*js, "name"); name && !name->is_string()) throw fail("json_schema 'name' must be a string");
    if (const ojson* strict = field(*js, "strict"); strict && !strict->is_boolean())
      throw fail("json_schema 'strict' must be a boolean");
    schema = field(*js, "schema");
  } else {
    throw ApiError{400, cat("'response_format' type '", t, "' is not supported (use 'text', 'json_object' or 'json_schema')"),
                   "invalid_request_error", "response_format", "unsupported_value"};
  }
  try {
    return schema ? grammar::Grammar::from_json_schema(*schema) : grammar::Grammar::any_object();
  } catch (const grammar::SchemaError& e) {
    throw fail(cat("has a schema that cannot be used: ", e.what()));
  }
}

}  // namespace

RequestSpec parse_spec(const ojson& b, bool chat, bool has_seed_default, uint64_t random_seed, int32_t n_vocab) {
  RequestSpec r;
  if (const ojson* m = field(b, "model")) {
    if (!m->is_string()) throw bad("model", "must be a string");
    r.model = m->get<std::string>();
  }
  auto& s = r.gen.sampling;
  s.temperature = static_cast<float>(number(b, "temperature", 0.8, 0, 2));
  s.top_p = static_cast<float>(number(b, "top_p", 0.95, 0, 1));
  s.top_k = static_cast<int32_t>(integer(b, "top_k", 40, -1, 1 << 30));
  s.min_p = static_cast<float>(number(b, "min_p", 0.05, 0, 1));
  s.presence_penalty = static_cast<float>(number(b, "presence_penalty", 0, -2, 2));
  s.frequency_penalty = static_cast<float>(number(b, "frequency_penalty", 0, -2, 2));
  s.repeat_penalty = static_cast<float>(number(b, "repeat_penalty", 1, 0, 10));
  s.seed = has_seed_default ? 0xC0FFEE : random_seed;
  if (const ojson* v = field(b, "seed")) {
    if (!v->is_number_integer()) throw bad("seed", "must be an integer");
    s.seed = static_cast<uint64_t>(v->get<int64_t>());
  }
  if (const ojson* v = field(b, "logit_bias")) {
    if (!v->is_object()) throw bad("logit_bias", "must be an object mapping token ids to numbers");
    for (const auto& [k, bias] : v->items()) {
      long long id = 0;
      try {
        size_t used = 0;
        id = std::stoll(k, &used);
        if (used != k.size()) throw std::invalid_argument(k);
      } catch (const std::out_of_range&) {
        id = -1;  // reported as out of range below
      } catch (const std::exception&) {
        throw bad("logit_bias", cat("has a key '", k, "' that is not a token id"));
      }
      if (id < 0 || id > INT32_MAX || (n_vocab > 0 && id >= n_vocab))
        throw bad("logit_bias", cat("has token id ", k, ", outside this model's vocabulary",
                                    n_vocab > 0 ? cat(" of ", n_vocab, " tokens (ids 0 to ", n_vocab - 1, ")") : ""));
      if (!bias.is_number()) throw bad("logit_bias", "values must be numbers");
      const double x = bias.get<double>();
      if (!(x >= -100 && x <= 100)) throw bad("logit_bias", cat("values must be between -100 and 100, got ", x));
      s.logit_bias[static_cast<int32_t>(id)] = static_cast<float>(x);
    }
  }
  const char* max_key = field(b, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (const ojson* v = field(b, max_key)) {
    if (!v->is_number_integer()) throw bad(max_key, "must be an integer");
    if (v->get<int64_t>() < 1)
      throw bad(max_key, cat("must be at least 1, got ", v->dump(), "; leave it out to generate until the reply ends"));
    r.gen.max_tokens = v->get<int64_t>();
  }
  r.n = static_cast<int>(integer(b, "n", 1, 1, 16));
  r.stream = boolean(b, "stream", false);
  if (const ojson* so = field(b, "stream_options")) {
    if (!so->is_object()) throw bad("stream_options", "must be an object");
    r.include_usage = boolean(*so, "include_usage", false);
  }
  if (const ojson* v = field(b, "stop")) {
    if (v->is_string()) {
      r.gen.stop.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      if (v->size() > 16) throw bad("stop", "may hold at most 16 strings");
      for (const auto& x : *v) {
        if (!x.is_string()) throw bad("stop", "must be a string or an array of strings");
        r.gen.stop.push_back(x.get<std::string>());
      }
    } else {
      throw bad("stop", "must be a string or an array of strings");
    }
  }
  if (chat) {
    r.logprobs = boolean(b, "logprobs", false);
    const int64_t top = integer(b, "top_logprobs", 0, 0, 20);
    if (field(b, "top_logprobs") && !r.logprobs) throw bad("top_logprobs", "needs 'logprobs': true");
    r.gen.top_logprobs = r.logprobs ? static_cast<int>(top) : -1;
  } else {
    const int64_t lp = integer(b, "logprobs", -1, 0, 20);
    r.logprobs = lp >= 0;
    r.gen.top_logprobs = static_cast<int>(lp);
  }
  if (!chat) {
    if (boolean(b, "echo", false))
      throw ApiError{400, "'echo' is not supported by this server; leave it out (or false) and prepend the prompt yourself",
                     "invalid_request_error", "echo", "unsupported_value"};
    if (const ojson* v = field(b, "suffix")) {
      if (!v->is_string()) throw bad("suffix", "must be a string");
      if (!v->get<std::string>().empty())
        throw ApiError{400, "'suffix' (text to insert before, fill-in-the-middle) is not supported by this server",
                       "invalid_request_error", "suffix", "unsupported_value"};
    }
  }
  if (const ojson* v = field(b, "response_format")) r.gen.grammar = response_format(*v);
  return r;
}

void check_completion_budget(const RequestSpec& spec, int64_t n_ctx, int64_t n_prompt, bool chat) {
  if (spec.gen.max_tokens < 0 || n_prompt + spec.gen.max_tokens <= n_ctx) return;
  const char* key = "max_tokens";
  throw ApiError{400,
                 cat("This model's maximum context length is ", n_ctx, " tokens; you requested ",
                     n_prompt + spec.gen.max_tokens, " tokens (", n_prompt, " in the ", chat ? "messages" : "prompt", ", ",
                     spec.gen.max_tokens, " for the completion). Lower 'max_tokens' to at most ", n_ctx - n_prompt,
                     " or leave it out to generate until the context is full"),
                 "invalid_request_error", key, "context_length_exceeded"};
}

ojson chat_logprobs(const tok::Tokenizer& tok, const std::vector<TokenLogprob>& lps) {
  auto entry = [&](int32_t id, float lp) {
    const std::string piece = tok.token_to_piece(id, false);
    ojson bytes = ojson::array();
    for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
    return ojson{{"token", piece}, {"logprob", lp}, {"bytes", bytes}};
  };
  ojson content = ojson::array();
  for (const auto& t : lps) {
    ojson e = entry(t.id, t.logprob);
    ojson top = ojson::array();
    for (const auto& [id, lp] : t.top) top.push_back(entry(id, lp));
    e["top_logprobs"] = top;
    content.push_back(e);
  }
  return {{"content", content}};
}

ojson completion_logprobs(const tok::Tokenizer& tok, const std::vector<TokenLogprob>& lps, size_t text_offset) {
  ojson tokens = ojson::array(), token_lps = ojson::array(), tops = ojson::array(), offsets = ojson::array();
  for (const auto& t : lps) {
    const std::string piece = tok.token_to_piece(t.id, false);
    tokens.push_back(piece);
    token_lps.push_back(t.logprob);
    ojson top = ojson::object();
    for (const auto& [id, lp] : t.top) top[tok.token_to_piece(id, false)] = lp;
    tops.push_back(top);
    offsets.push_back(text_offset);
    text_offset += piece.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

ojson usage_json(int64_t prompt, int64_t completion, int64_t cached) {
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

}  // namespace helix::server

#include "server/embeddings.h"

#include <cstring>

#include "core/error.h"

namespace helix::server {
namespace {

constexpr size_t kMaxInputs = 2048;  // OpenAI's limit on inputs per request

ApiError bad_input(const std::string& msg) {
  return ApiError{400, msg, "invalid_request_error", "input", "invalid_value"};
}

// [CLS] ids [SEP] with the encoder's own special tokens, unless already there.
std::vector<int32_t> with_specials(std::vector<int32_t> ids, const tok::Tokenizer& tok) {
  const int32_t cls = tok.bos(), sep = tok.sep() >= 0 ? tok.sep() : tok.eos();
  if (cls >= 0 && (ids.empty() || ids.front() != cls)) ids.insert(ids.begin(), cls);
  if (sep >= 0 && ids.back() != sep) ids.push_back(sep);
  return ids;
}

std::vector<int32_t> token_input(const ojson& arr, const tok::Tokenizer& tok) {
  std::vector<int32_t> ids;
  for (const auto& x : arr) {
    if (!x.is_number_integer()) throw bad_input("a token-id input must hold only integers");
    const int64_t id = x.get<int64_t>();
    if (id < 0 || id >= tok.n_vocab())
      throw bad_input(cat("token id ", id, " is out of range for this model (0..", tok.n_vocab() - 1, ")"));
    ids.push_back(static_cast<int32_t>(id));
  }
  return with_specials(std::move(ids), tok);
}

}  // namespace

EmbeddingRequest parse_embedding_request(const ojson& body, const model::BertEncoder& enc) {
  EmbeddingRequest r;
  if (auto m = body.find("model"); m != body.end() && !m->is_null()) {
    if (!m->is_string()) throw ApiError{400, "'model' must be a string", "invalid_request_error", "model", "invalid_type"};
    r.model = m->get<std::string>();
  }
  if (auto f = body.find("encoding_format"); f != body.end() && !f->is_null()) {
    if (!f->is_string() || (*f != "float" && *f != "base64"))
      throw ApiError{400, "'encoding_format' must be \"float\" or \"base64\"", "invalid_request_error",
                     "encoding_format", "invalid_value"};
    r.base64 = *f == "base64";
  }
  if (auto d = body.find("dimensions"); d != body.end() && !d->is_null()) {
    if (!d->is_number_integer() || d->get<int64_t>() != enc.dim())
      throw ApiError{400, cat("this embedding model has ", enc.dim(), " dimensions and cannot shorten them; omit "
                              "'dimensions' or pass ", enc.dim()),
                     "invalid_request_error", "dimensions", "invalid_value"};
  }
  bool truncate = false;
  if (auto t = body.find("truncate"); t != body.end() && !t->is_null()) {
    if (!t->is_boolean()) throw ApiError{400, "'truncate' must be a boolean", "invalid_request_error", "truncate", "invalid_type"};
    truncate = t->get<bool>();
  }

  const auto in = body.find("input");
  if (in == body.end() || in->is_null()) throw bad_input("'input' is required: a string or an array of strings");
  const tok::Tokenizer& tok = enc.tokenizer();
  auto add_text = [&](const std::string& s) {
    if (tok.type() == tok::VocabType::kNone)
      throw bad_input("this embedding model has no vocabulary (tokenizer.ggml.model = none): give 'input' as "
                      "token ids");
    r.inputs.push_back(tok.encode(s, /*add_special=*/true, /*parse_special=*/false));
  };
  if (in->is_string()) {
    add_text(in->get<std::string>());
  } else if (in->is_array()) {
    if (in->empty()) throw bad_input("'input' must not be an empty array");
    if (in->size() > kMaxInputs) throw bad_input(cat("at most ", kMaxInputs, " inputs per request, got ", in->size()));
    if ((*in)[0].is_number_integer()) {
      r.inputs.push_back(token_input(*in, tok));
    } else {
      for (const auto& x : *in) {
        if (x.is_string()) add_text(x.get<std::string>());
        else if (x.is_array() && !x.empty()) r.inputs.push_back(token_input(x, tok));
        else throw bad_input("each element of 'input' must be a string or a non-empty array of token ids");
      }
    }
  } else {
    throw bad_input("'input' must be a string, an array of strings, or token ids");
  }

  const auto max = static_cast<size_t>(enc.config().max_tokens);
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    auto& ids = r.inputs[i];
    if (ids.size() <= max) continue;
    if (!truncate)
      throw ApiError{400,
                     cat("input ", i, " has ", ids.size(), " tokens but this embedding model takes at most ", max,
                         "; shorten it, split it, or pass \"truncate\": true"),
                     "invalid_request_error", "input", "context_length_exceeded"};
    enc.truncate(ids);
  }
  return r;
}

ojson embedding_response(const EmbeddingRequest& req, const std::vector<std::vector<float>>& vectors,
                         const std::string& model_id) {
  ojson data = ojson::array();
  int64_t tokens = 0;
  for (size_t i = 0; i < vectors.size(); ++i) {
    ojson e = {{"object", "embedding"}, {"index", i}};
    if (req.base64) e["embedding"] = base64_encode(vectors[i].data(), vectors[i].size() * sizeof(float));
    else e["embedding"] = vectors[i];
    data.push_back(std::move(e));
    tokens += static_cast<int64_t>(req.inputs[i].size());
  }
  return {{"object", "list"}, {"data", std::move(data)}, {"model", model_id},
          {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
}

std::string base64_encode(const void* data, size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t b0 = p[i], b1 = i + 1 < n ? p[i + 1] : 0, b2 = i + 2 < n ? p[i + 2] : 0;
    const uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  return out;
}

}  // namespace helix::server

// POST /v1/embeddings: OpenAI's embeddings request over a BERT encoder.
//   {"input": "text" | ["text", ...] | [token ids] | [[token ids], ...],
//    "model": "...", "encoding_format": "float" | "base64", "dimensions": N, "truncate": bool}
// Texts get [CLS] ... [SEP] as the encoder's tokenizer adds them; token-id inputs get them added
// when missing. An input longer than the model's maximum is refused (400, naming the numbers)
// unless "truncate": true (a Helix extension) asks for sentence-transformers' truncation.
// "base64" is little-endian float32, what the official client asks for by default.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/bert.h"
#include "server/api_json.h"

namespace helix::server {

struct EmbeddingRequest {
  std::vector<std::vector<int32_t>> inputs;  // token ids with [CLS]/[SEP]
  bool base64 = false;
  std::string model;  // as requested ("" when absent)
};

// Reads and checks a request body (throws ApiError with the offending field as param).
EmbeddingRequest parse_embedding_request(const ojson& body, const model::BertEncoder& enc);

// The response object for computed embeddings (one per input, in order).
ojson embedding_response(const EmbeddingRequest& req, const std::vector<std::vector<float>>& vectors,
                         const std::string& model_id);

// Standard base64 (RFC 4648, with padding) of raw bytes.
std::string base64_encode(const void* data, size_t n);

}  // namespace helix::server

// /v1/embeddings request handling that does not need a model: base64 and error messages.
#include <gtest/gtest.h>

#include <cstring>

#include "server/embeddings.h"

namespace helix::server {
namespace {

TEST(Embeddings, Base64MatchesRfc4648) {
  // RFC 4648 section 10 test vectors.
  const std::pair<const char*, const char*> cases[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                       {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                       {"foobar", "Zm9vYmFy"}};
  for (const auto& [in, out] : cases) EXPECT_EQ(base64_encode(in, std::strlen(in)), out) << in;
  const float one = 1.0f;  // 0x3f800000 little-endian: 00 00 80 3f
  EXPECT_EQ(base64_encode(&one, sizeof one), "AACAPw==");
}

TEST(Embeddings, ResponseShape) {
  EmbeddingRequest req;
  req.inputs = {{101, 7, 102}, {101, 102}};
  const ojson r = embedding_response(req, {{1.0f, 0.0f}, {0.0f, 1.0f}}, "m");
  EXPECT_EQ(r["object"], "list");
  EXPECT_EQ(r["model"], "m");
  ASSERT_EQ(r["data"].size(), 2u);
  EXPECT_EQ(r["data"][1]["index"], 1);
  EXPECT_EQ(r["data"][1]["embedding"][1], 1.0);
  EXPECT_EQ(r["usage"]["prompt_tokens"], 5);
  req.base64 = true;
  EXPECT_EQ(embedding_response(req, {{1.0f}, {1.0f}}, "m")["data"][0]["embedding"], "AACAPw==");
}

}  // namespace
}  // namespace helix::server

// RWKV's "world" tokenizer (`tokenizer.ggml.model` = rwkv): token texts are stored escaped as
// Python writes bytes literals (\t \n \r \\ \' \xNN), and encoding takes, left to right, the
// longest token whose bytes start there, as RWKV's TRIE_TOKENIZER and llama.cpp do. A byte that
// starts no token becomes the unknown token (skipped when the vocabulary has none).
#include "core/error.h"
#include "tokenizer/vocab.h"

namespace helix::tok {

std::string unescape_rwkv(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '\\' || i + 1 == t.size()) {
      out.push_back(t[i]);
      continue;
    }
    const char c = t[++i];
    if (c == 't') out.push_back('\t');
    else if (c == 'n') out.push_back('\n');
    else if (c == 'r') out.push_back('\r');
    else if (c == 'x' && i + 2 < t.size() && hex(t[i + 1]) >= 0 && hex(t[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(t[i + 1]) * 16 + hex(t[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void encode_rwkv(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  for (size_t i = 0; i < text.size();) {
    size_t best = 0;
    int32_t id = -1;
    v.rwkv_trie.prefixes(text, i, [&](size_t end, int32_t tok) {
      best = end - i;
      id = tok;
    });
    if (best == 0) {
      if (v.unk >= 0) out.push_back(v.unk);
      ++i;
      continue;
    }
    out.push_back(id);
    i += best;
  }
}

}  // namespace helix::tok

// BPE over whitespace-separated words (`tokenizer.ggml.model` = whitespace; jina-embeddings-v2-
// base-zh, whose converter also names the pre-tokenizer "whitespace"): the text is cut at every
// White_Space character, which is dropped, optionally lowercased
// (`tokenizer.ggml.normalizer.lowercase`, off by default), and each word is merged by the
// vocabulary's BPE with its pre-tokenizer (encode_bpe), as llama.cpp does.
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace helix::tok {

void encode_whitespace(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  thread_local std::string clean, word;
  const std::string_view s = sanitize_utf8(text, clean);
  word.clear();
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const uint32_t cp = decode_utf8(s, i);
    if (is_space(cp)) {
      if (!word.empty()) encode_bpe(v, word, out);
      word.clear();
    } else if (v.lowercase) {
      append_utf8(word, to_lower(cp));
    } else {
      word.append(s, start, i - start);
    }
  }
  if (!word.empty()) encode_bpe(v, word, out);
}

}  // namespace helix::tok

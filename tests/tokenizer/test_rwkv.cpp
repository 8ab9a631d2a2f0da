// RWKV's tokenizer: token texts unescaped as Python writes bytes literals, and greedy longest
// match with the unknown token for a byte that starts no token. (Whole vocabularies are
// compared in tests/python/test_tokenizer_rwkv.py.)
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace {

using namespace helix::tok;

TEST(Rwkv, UnescapesPythonBytesLiterals) {
  EXPECT_EQ(unescape_rwkv("a\\tb\\nc\\rd"), "a\tb\nc\rd");
  EXPECT_EQ(unescape_rwkv("\\xff\\x00\\x41"), std::string("\xff\0A", 3));
  EXPECT_EQ(unescape_rwkv("\\\\ \\' \""), "\\ ' \"");
  EXPECT_EQ(unescape_rwkv("\\x4"), "x4");  // a broken escape keeps its characters
  EXPECT_EQ(unescape_rwkv("end\\"), "end\\");
}

TEST(Rwkv, LongestMatchLeftToRight) {
  VocabSpec s;
  s.model = "rwkv";
  s.tokens = {"<unk>", "a", "ab", "abc", "b", "c", "\\n", "\\xe4\\xb8"};
  s.types = {2, 1, 1, 1, 1, 1, 1, 1};
  s.unk = 0;
  const auto t = Tokenizer::from_spec(s);
  EXPECT_EQ(t->encode("abcabab\n"), (std::vector<int32_t>{3, 2, 2, 6}));
  EXPECT_EQ(t->encode("abd"), (std::vector<int32_t>{2, 0}));  // no token starts with 'd'
  EXPECT_EQ(t->encode("\xe4\xb8\xad"), (std::vector<int32_t>{7, 0}));
  EXPECT_EQ(t->decode({3, 6, 7}), "abc\n\xe4\xb8");
  EXPECT_FALSE(t->add_bos());
  EXPECT_FALSE(t->add_eos());
}

}  // namespace

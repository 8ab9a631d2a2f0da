// The tokenizer models only llama.cpp defines: plamo2 (best-scoring pieces, byte fallback),
// whitespace (BPE over whitespace-separated words), hybriddna (BPE and DNA k-mers) and none (no
// vocabulary). Small vocabularies whose answers can be worked out by hand; whole vocabularies
// are compared with llama.cpp's own ids in tests/python/test_tokenizer_llama_cpp_ref.py.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace helix::tok;
using Ids = std::vector<int32_t>;

// PLaMo 2's layout: unk, bos, eos, pad, then the 256 byte tokens (ids 4..259), then pieces.
constexpr int32_t kByte0 = 4;
VocabSpec plamo2_spec() {
  VocabSpec s;
  s.model = "plamo2";
  s.tokens = {"<|plamo:unk|>", "<|plamo:bos|>", "<|plamo:eos|>", "<|plamo:pad|>"};
  s.types = {2, 3, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    s.tokens.push_back(name);
    s.types.push_back(6);
  }
  s.scores.assign(s.tokens.size(), 0.0f);
  const std::vector<std::pair<std::string, float>> pieces = {
      {"a", -1}, {"b", -1}, {"ab", -1.5f}, {"abc", -5}, {"c", -1}, {"hello", -5}, {"hel", -2.5f},
      {"lo", -2.5f}, {" ", -1}, {"\xe4\xb8\xad", -3}, {"\xf0\x9f\xa6\x99", -3000}};
  for (const auto& [p, sc] : pieces) {
    s.tokens.push_back(p);
    s.scores.push_back(sc);
    s.types.push_back(1);
  }
  return s;
}
constexpr int32_t kA = 260, kB = 261, kAB = 262, kC = 264, kHello = 265, kSpace = 268, kZhong = 269;

TEST(Plamo2, PicksTheBestScoringSegmentation) {
  const auto t = Tokenizer::from_spec(plamo2_spec());
  EXPECT_EQ(t->type(), VocabType::kPlamo2);
  EXPECT_EQ(t->encode("ab", false), (Ids{kAB}));           // 1.5 beats 1 + 1
  EXPECT_EQ(t->encode("abc", false), (Ids{kAB, kC}));      // 1.5 + 1 beats 5 and 1 + 1 + 1
  EXPECT_EQ(t->encode("hello", false), (Ids{kHello}));     // a tie (5 = 2.5 + 2.5): the longer piece
  EXPECT_EQ(t->encode("a \xe4\xb8\xad", false), (Ids{kA, kSpace, kZhong}));
  EXPECT_EQ(t->encode("ba", false), (Ids{kB, kA}));
}

TEST(Plamo2, FallsBackToBytes) {
  const auto t = Tokenizer::from_spec(plamo2_spec());
  EXPECT_EQ(t->encode("axb", false), (Ids{kA, kByte0 + 'x', kB}));
  // A piece scored -2000 or less is never used: the llama is four byte tokens.
  EXPECT_EQ(t->encode("\xf0\x9f\xa6\x99", false), (Ids{kByte0 + 0xf0, kByte0 + 0x9f, kByte0 + 0xa6, kByte0 + 0x99}));
  // Invalid UTF-8 reads as U+FFFD (EF BF BD), as in llama.cpp.
  EXPECT_EQ(t->encode("\xff", false), (Ids{kByte0 + 0xef, kByte0 + 0xbf, kByte0 + 0xbd}));
  EXPECT_EQ(t->decode(t->encode("hello ab\xe4\xb8\xadxyz!", false)), "hello ab\xe4\xb8\xadxyz!");
}

TEST(Plamo2, DropsALeadingByteOrderMark) {
  const auto t = Tokenizer::from_spec(plamo2_spec());
  EXPECT_EQ(t->encode("\xef\xbb\xbf" "ab", false), (Ids{kAB}));
  EXPECT_EQ(t->encode("a\xef\xbb\xbf", false), (Ids{kA, kByte0 + 0xef, kByte0 + 0xbb, kByte0 + 0xbf}));
  EXPECT_EQ(t->encode("a<|plamo:eos|>\xef\xbb\xbf" "b", false, true), (Ids{kA, 2, kB}));
}

TEST(Plamo2, SpecialTokensAndDefaults) {
  const auto t = Tokenizer::from_spec(plamo2_spec());
  EXPECT_EQ(t->bos(), 1);
  EXPECT_EQ(t->eos(), 2);
  EXPECT_EQ(t->unk(), 0);
  EXPECT_EQ(t->pad(), 3);
  EXPECT_FALSE(t->add_bos());
  EXPECT_EQ(t->encode("<|plamo:bos|>ab", false, true), (Ids{1, kAB}));
  // Unparsed, the control token's text is still a piece (score 0), as in llama.cpp.
  EXPECT_EQ(t->encode("<|plamo:bos|>", false, false), (Ids{1}));
  EXPECT_EQ(t->token_to_piece(kByte0 + 'x'), "x");
  EXPECT_EQ(t->token_to_piece(1, false), "");
  EXPECT_EQ(t->token_to_piece(1, true), "<|plamo:bos|>");
  EXPECT_EQ(t->describe(), "plamo2");
}

TEST(Plamo2, NeedsEveryByteToken) {
  VocabSpec s = plamo2_spec();
  s.types[kByte0 + 0x41] = 1;  // <0x41> is no longer a byte token
  try {
    Tokenizer::from_spec(s);
    FAIL() << "built a plamo2 vocabulary without <0x41>";
  } catch (const helix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no byte token <0x41>"), std::string::npos) << e.what();
  }
}

// Whitespace BPE over raw UTF-8: ids 0 <s>, 1 </s>, then entries.
VocabSpec whitespace_spec(const std::string& model = "whitespace") {
  VocabSpec s;
  s.model = model;
  s.pre = "whitespace";
  s.tokens = {"<s>", "</s>", "a", "b", "ab", "c", "\xe4\xb8\xad", "\xe6\x96\x87", "\xe4\xb8\xad\xe6\x96\x87", "<0xF0>", " "};
  s.types = {3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 1};
  s.merges = {"a b", "\xe4\xb8\xad \xe6\x96\x87"};
  s.bos = 0;
  s.eos = 1;
  s.add_bos = true;
  s.add_eos = true;
  return s;
}

TEST(Whitespace, MergesEachWordBetweenWhitespace) {
  const auto t = Tokenizer::from_spec(whitespace_spec());
  EXPECT_EQ(t->type(), VocabType::kBpe);
  EXPECT_EQ(t->encode("ab  c\t\xe4\xb8\xad\xe6\x96\x87\xe3\x80\x80" "ab"), (Ids{0, 4, 5, 8, 4, 1}));
  EXPECT_EQ(t->encode("axb", false), (Ids{2, 3}));  // no entry and no byte token for 'x': dropped
  EXPECT_EQ(t->encode("\xf0\x9f\xa6\x99", false), (Ids{9}));  // only <0xF0> of its bytes has a token
  EXPECT_EQ(t->encode("AB", false), (Ids{}));  // not lowercased unless the file says so
  EXPECT_EQ(t->decode(t->encode("ab c \xe4\xb8\xad\xe6\x96\x87", false)), "abc\xe4\xb8\xad\xe6\x96\x87");
  EXPECT_EQ(t->describe(), "whitespace (pre-tokenizer whitespace)");
  VocabSpec lower = whitespace_spec();
  lower.lowercase = true;
  EXPECT_EQ(Tokenizer::from_spec(lower)->encode("AB C", false), (Ids{4, 5}));
}

TEST(Whitespace, AsAPreTokenizerOfGpt2KeepsTheWhitespace) {
  const auto t = Tokenizer::from_spec(whitespace_spec("gpt2"));
  EXPECT_EQ(t->encode("ab  c", false), (Ids{4, 10, 10, 5}));  // spaces are a word of their own
}

// HybriDNA: byte-level BPE entries, the tags, <oov> and k-mers with the U+E000 marker.
VocabSpec dna_spec() {
  const std::string m = "\xee\x80\x80";
  VocabSpec s;
  s.model = "hybriddna";
  s.pre = "qwen2";
  s.tokens = {"A", "C", "G", "T", "x", "CCCCCC", "<dna>", "</dna>", "<oov>",
              "ACGTAC" + m, "AAAAAA" + m, "CCCCCC" + m, "ACAAAA" + m};
  s.types = {1, 1, 1, 1, 1, 1, 3, 3, 3, 1, 1, 1, 1};
  s.merges = {"C C", "CC CC", "CCCC CC"};
  s.add_bos = false;
  return s;
}

TEST(HybridDna, SplitsDnaIntoKmers) {
  const auto t = Tokenizer::from_spec(dna_spec());
  EXPECT_EQ(t->encode("x<dna>acgtacAAAAAA</dna>x", false), (Ids{4, 6, 9, 10, 7, 4}));
  EXPECT_EQ(t->encode("<dna>AC", false), (Ids{6, 12}));              // padded with A, no </dna>
  EXPECT_EQ(t->encode("<dna>NNNNNNCC</dna>", false), (Ids{6, 8, 8, 7}));  // not ACGT: <oov>
  EXPECT_EQ(t->encode("CCCCCC<dna>CCCCCC</dna>", false), (Ids{5, 6, 11, 7}));  // BPE entry, then k-mer
  EXPECT_EQ(t->encode("<dna></dna>", false), (Ids{6, 7}));
  // Parsed as special tokens, the tags are cut out first and the sequence is plain BPE.
  EXPECT_EQ(t->encode("<dna>CCCCCC</dna>", false, true), (Ids{6, 5, 7}));
  EXPECT_EQ(t->token_text(9), "ACGTAC");  // the marker is left out of the text and the piece
  EXPECT_EQ(t->decode({4, 6, 9, 10, 7}, true), "x<dna>ACGTACAAAAAA</dna>");
}

TEST(HybridDna, WithoutTheTagsItIsPlainBpe) {
  VocabSpec s = dna_spec();
  s.tokens[8] = "<unk>";  // no <oov>
  const auto t = Tokenizer::from_spec(s);
  EXPECT_EQ(t->encode("<dna>CCCCCC", false, true), (Ids{6, 5}));
  EXPECT_EQ(t->encode("x<dna>ACGTAC", false), (Ids{4, 0, 1, 2, 3, 0, 1}));  // no k-mers
}

TEST(NoVocabulary, LoadsButRefusesText) {
  VocabSpec s;
  s.model = "none";
  s.vocab_size = 100;
  const auto t = Tokenizer::from_spec(s);
  EXPECT_EQ(t->type(), VocabType::kNone);
  EXPECT_EQ(t->n_vocab(), 100);
  EXPECT_EQ(t->bos(), -1);
  EXPECT_EQ(t->token_text(5), "");
  EXPECT_EQ(t->describe(), "none (no vocabulary: token ids only)");
  try {
    t->encode("hello");
    FAIL() << "tokenized text without a vocabulary";
  } catch (const helix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no vocabulary"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t->decode({1, 2}), helix::Error);
}

TEST(TokenizerModels, UnknownModelListsTheKnownOnes) {
  VocabSpec s;
  s.model = "no-such-model";
  s.tokens = {"a"};
  try {
    Tokenizer::from_spec(s);
    FAIL();
  } catch (const helix::Error& e) {
    const std::string m = e.what();
    for (const char* name : {"plamo2", "whitespace", "hybriddna", "none", "t5"})
      EXPECT_NE(m.find(name), std::string::npos) << m;
  }
}

}  // namespace

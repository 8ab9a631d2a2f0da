// Unit tests for the tokenizers on small vocabularies built in the test (VocabSpec), plus
// round trips, streaming decoding and error handling on the shared test vocabularies and the
// default model when it is installed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "io/gguf.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using namespace helix::tok;
using Ids = std::vector<int32_t>;

std::string vocab_path(const std::string& name) {
  return std::string(HELIX_TESTDATA) + "/tokenizer/ggml-vocab-" + name + ".gguf";
}

std::unique_ptr<Tokenizer> load(const std::string& name) {
  return Tokenizer::from_gguf(helix::gguf::GGUFFile::open(vocab_path(name)));
}

std::string default_model() {
  if (const char* m = std::getenv("HELIX_MODEL")) return m;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/helix/models/default.gguf";
}

// A tiny SentencePiece vocabulary: <unk> <s> </s>, byte tokens for 'a'..'c' and 0xC3 0xA9,
// pieces with scores, a control and a user-defined token.
VocabSpec tiny_spm() {
  VocabSpec s;
  s.model = "llama";
  s.tokens = {"<unk>", "<s>", "</s>", "<0x61>", "<0xC3>", "<0xA9>", "\xe2\x96\x81", "a", "b", "ab",
              "\xe2\x96\x81" "ab", "c", "<ctl>", "<usr>"};
  s.scores = {0, 0, 0, 0, 0, 0, -1, -2, -2, -1, -0.5f, -3, 0, 0};
  s.types = {2, 3, 3, 6, 6, 6, 1, 1, 1, 1, 1, 1, 3, 4};
  return s;
}

TEST(Unicode, Categories) {
  EXPECT_TRUE(is_letter('a'));
  EXPECT_TRUE(is_letter(0x4e2d));   // 中
  EXPECT_TRUE(is_number('7'));
  EXPECT_TRUE(is_number(0xbd));     // ½
  EXPECT_TRUE(is_space(0x3000));
  EXPECT_TRUE(is_space(0x85));
  EXPECT_FALSE(is_space(0x200b));   // zero width space is a format control, not White_Space
  EXPECT_TRUE(cp_flags(0x200d) & kControl);
  EXPECT_TRUE(cp_flags(0x301) & kMark);
  EXPECT_TRUE(cp_flags('!') & kPunct);
  EXPECT_TRUE(cp_flags('+') & kSymbol);
  EXPECT_EQ(cp_flags(0x110000), kUndefined);
  EXPECT_EQ(to_lower('Q'), static_cast<uint32_t>('q'));
  EXPECT_EQ(to_lower(0x410), 0x430u);  // Cyrillic А
  EXPECT_EQ(to_lower(0x130), 0x69u);   // İ -> i (first code point of the lowercase)
  EXPECT_EQ(nfd_first(0xe9), 0x65u);   // é -> e
  EXPECT_EQ(nfd_first(0xac00), 0x1100u);
  EXPECT_EQ(nfd_first('x'), static_cast<uint32_t>('x'));
  uint32_t d[3];
  ASSERT_EQ(nfd_bert(0xe9, d), 1u);    // é -> e (the acute is dropped anyway)
  EXPECT_EQ(d[0], 0x65u);
  ASSERT_EQ(nfd_bert(0xcc0, d), 2u);   // Kannada II -> I (Mn) + length mark (Mc)
  EXPECT_EQ(d[0], 0xcbfu);
  EXPECT_EQ(d[1], 0xcd5u);
  ASSERT_EQ(nfd_bert(0xd55c, d), 3u);  // 한 -> jamo
  EXPECT_EQ(d[2], 0x11abu);
  EXPECT_EQ(combining_class(0x301), 230);
  EXPECT_EQ(combining_class('a'), 0);
  // BERT's classes.
  EXPECT_TRUE(cp_flags(0x301) & kBertNonspacing);
  EXPECT_FALSE(cp_flags(0x93e) & kBertNonspacing);  // Devanagari AA is Mc: kept
  EXPECT_TRUE(cp_flags(0x200d) & kBertControl);     // ZWJ (Cf)
  EXPECT_TRUE(cp_flags(0xfffd) & kBertControl);
  EXPECT_FALSE(cp_flags('\n') & kBertControl);
  EXPECT_TRUE(cp_flags('$') & kBertPunct);
  EXPECT_TRUE(cp_flags(0xa7) & kBertPunct);         // § (Po)
  EXPECT_FALSE(cp_flags(0x2e54) & kBertPunct);      // Unicode 14 Po, unassigned in HF's data
}

TEST(Unicode, Utf8Helpers) {
  size_t i = 0;
  EXPECT_EQ(decode_utf8("\xe4\xb8\xad", i), 0x4e2du);
  EXPECT_EQ(i, 3u);
  i = 0;
  EXPECT_EQ(decode_utf8("\xe4\xb8" "a", i), 0xfffdu);  // truncated: one byte consumed
  EXPECT_EQ(i, 1u);
  std::string scratch;
  EXPECT_EQ(sanitize_utf8("ok \xff!", scratch), "ok \xef\xbf\xbd!");
  EXPECT_EQ(sanitize_utf8("fine", scratch), "fine");
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9"));
  EXPECT_FALSE(is_valid_utf8("\xc0\x80"));
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));
  EXPECT_EQ(utf8_incomplete_tail("ab\xe4\xb8"), 2u);
  EXPECT_EQ(utf8_incomplete_tail("ab\xe4\xb8\xad"), 0u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(byte_from_cp(byte_to_cp(static_cast<uint8_t>(b))), b);
  EXPECT_EQ(byte_to_cp(' '), 0x120u);  // 'Ġ'
}

std::vector<std::string> split(const PreTokenizer& p, const std::string& s) {
  std::vector<Span> sp;
  pretokenize(p, s, sp);
  std::vector<std::string> out;
  for (const Span x : sp) out.push_back(s.substr(x.begin, x.end - x.begin));
  return out;
}

std::vector<std::string> words(const char* pre, const std::string& s) {
  return split(pre_tokenizer(pre), s);
}

TEST(Pretokenize, Gpt2) {
  using V = std::vector<std::string>;
  EXPECT_EQ(words("gpt-2", "Hello world's  x\n"), (V{"Hello", " world", "'s", " ", " x", "\n"}));
  EXPECT_EQ(words("gpt-2", "a123 !!  "), (V{"a", "123", " !!", "  "}));
}

TEST(Pretokenize, Llama3AndQwen2) {
  using V = std::vector<std::string>;
  EXPECT_EQ(words("llama-bpe", "12345 I'M ok\n\n  x"), (V{"123", "45", " I", "'M", " ok", "\n\n", " ", " x"}));
  EXPECT_EQ(words("qwen2", "123"), (V{"1", "2", "3"}));
}

TEST(Pretokenize, SequencesSplitFurther) {
  using V = std::vector<std::string>;
  EXPECT_EQ(words("falcon", "x 1234567"), (V{"x", " ", "123", "456", "7"}));
  EXPECT_EQ(words("deepseek-llm", "Hi 中文\n12"), (V{"Hi", " ", "中文", "\n", "12"}));
  EXPECT_EQ(words("starcoder", "x=12 ab"), (V{"x", "=", "1", "2", " ab"}));
  EXPECT_EQ(words("deepseek-coder", "if x:\n  return 42"),
            (V{"if", " x", ":", "\n", " ", " return", " ", "4", "2"}));
  EXPECT_EQ(words("refact", "v1"), (V{"v", "1"}));
  EXPECT_EQ(words("superbpe", "in 1234567 days"), (V{"in ", "1", "234", "567", " days"}));
  EXPECT_EQ(words("gpt-4o", "HelloWorld's DON'T"), (V{"Hello", "World's", " DON'T"}));
  EXPECT_EQ(words("tekken", "HTTPServer"), (V{"HTTPServer"}));
  EXPECT_EQ(words("kimi-k2", "ab中文cd"), (V{"ab", "中文", "cd"}));
  EXPECT_EQ(words("bloom", "a, b!"), (V{"a", ",", " b", "!"}));
  EXPECT_EQ(words("chameleon", "x 7 IMGIMGABZ"), (V{"x", " ", "7", " ", "IMGIMGABZ"}));
}

TEST(Pretokenize, UnknownTypeNamesItAndTheKnownOnes) {
  try {
    pre_tokenizer("no-such-pre");
    FAIL() << "no error";
  } catch (const helix::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'no-such-pre'"), std::string::npos) << m;
    EXPECT_NE(m.find("starcoder"), std::string::npos) << m;
    EXPECT_NE(m.find("deepseek-coder"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(pre_tokenizer(""));
  EXPECT_EQ(pre_tokenizer("llama4").family, "gpt-4o");
  EXPECT_TRUE(pre_tokenizer("llama-bpe").ignore_merges);
  EXPECT_TRUE(pre_tokenizer("tekken").ignore_merges);
  EXPECT_FALSE(pre_tokenizer("dbrx").ignore_merges);
}

// The hand-written scanners give the same words as the regex engine running their patterns.
TEST(Pretokenize, ScannersMatchTheRegexEngine) {
  std::mt19937 rng(7);
  const std::vector<std::string> parts = {"Hello", " world", "'s", "'LL", " ", "  ", "\n", "\r\n", "\t",
                                          "123", "4567", "!!", " ?", "中文", "é", "e\xcc\x81", "\xc2\xa0",
                                          "\xe3\x80\x80", "\xf0\x9f\xa6\x99", "x", "_", "\xc2\xbd"};
  for (const char* fam : {"gpt-2", "llama-bpe", "qwen2", "superbpe", "falcon", "starcoder"}) {
    const PreTokenizer& native = pre_tokenizer(fam);
    const PreTokenizer engine = make_pre_tokenizer(native.regexes, false);
    for (int n = 0; n < 400; ++n) {
      std::string s;
      for (int k = static_cast<int>(rng() % 12); k >= 0; --k) s += parts[rng() % parts.size()];
      ASSERT_EQ(split(native, s), split(engine, s)) << fam << ": " << s;
    }
  }
}

TEST(Pretokenize, LongWordsInRepeatedGroupsAreAnErrorNotACrash) {
  const std::string word(1000, 'a');
  EXPECT_EQ(words("exaone-moe", word + " b!"), (std::vector<std::string>{word + " b", "!"}));
  EXPECT_THROW(words("exaone-moe", std::string(200000, 'a')), helix::Error);
  EXPECT_EQ(words("gpt-4o", std::string(200000, 'a')).size(), 1u);  // no repeated group
}

TEST(Pretokenize, FamilyFlagsReachTheVocabulary) {
  VocabSpec s;
  s.model = "gpt2";
  for (char c = 'a'; c <= 'p'; ++c) s.tokens.push_back(std::string(1, c));
  s.merges = {"a b"};
  s.pre = "llama-bpe";  // llama.cpp: BOS added, whole words bypass merges
  auto t = Tokenizer::from_spec(s);
  EXPECT_TRUE(t->add_bos());
  EXPECT_EQ(t->bos(), 11);
  s.pre = "glm4";  // no BOS unless the file names one
  t = Tokenizer::from_spec(s);
  EXPECT_EQ(t->bos(), -1);
  EXPECT_FALSE(t->add_bos());
  s.pre = "starcoder";
  t = Tokenizer::from_spec(s);
  EXPECT_EQ(t->bos(), 11);
  EXPECT_FALSE(t->add_bos());
  s.pre = "no-such-pre";
  EXPECT_THROW(Tokenizer::from_spec(s), helix::Error);
}

TEST(PreRegex, Syntax) {
  const std::string s = "ab12";
  std::vector<uint32_t> cp;
  std::vector<uint16_t> fl;
  for (const char ch : s) cp.push_back(static_cast<uint8_t>(ch)), fl.push_back(cp_flags(cp.back()));
  const CpText t{cp.data(), fl.data()};
  EXPECT_EQ(PreRegex("[a-z]+").match_at(t, 0, 4, 0), 2);
  EXPECT_EQ(PreRegex("[a-z]+").match_at(t, 0, 4, 2), -1);
  EXPECT_EQ(PreRegex("a|ab").match_at(t, 0, 4, 0), 1);            // ordered alternation
  EXPECT_EQ(PreRegex("\\p{L}*b").match_at(t, 0, 4, 0), 2);         // backtracking
  EXPECT_EQ(PreRegex("\\p{L}*+b").match_at(t, 0, 4, 0), -1);       // possessive
  EXPECT_EQ(PreRegex("(?i:AB)\\d{1,3}").match_at(t, 0, 4, 0), 4);
  EXPECT_EQ(PreRegex("ab(?=1)").match_at(t, 0, 4, 0), 2);
  EXPECT_EQ(PreRegex("ab(?!1)").match_at(t, 0, 4, 0), -1);
  EXPECT_EQ(PreRegex("\\d+$").match_at(t, 0, 4, 2), 4);
  EXPECT_EQ(PreRegex("[\\p{L}&&[^a]]").match_at(t, 0, 4, 1), 2);
  EXPECT_EQ(PreRegex("[\\p{L}&&[^a]]").match_at(t, 0, 4, 0), -1);
  for (const char* bad : {"a(", "a)", "[a", "\\q", "a*?", "\\p{Xx}", "(ab)++", "."})
    EXPECT_THROW(PreRegex{bad}, helix::Error) << bad;
}

TEST(Spm, MergesByScoreWithPrefixAndBytes) {
  const auto tok = Tokenizer::from_spec(tiny_spm());
  EXPECT_EQ(tok->type(), VocabType::kSpm);
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
  // " ab" -> "▁ab" (best score), "c" has its own piece, "é" falls back to two byte tokens.
  EXPECT_EQ(tok->encode("ab", false), (Ids{10}));
  EXPECT_EQ(tok->encode("ab", true), (Ids{1, 10}));
  EXPECT_EQ(tok->encode("abc\xc3\xa9", false), (Ids{10, 11, 4, 5}));
  EXPECT_EQ(tok->decode(tok->encode("abc\xc3\xa9")), "abc\xc3\xa9");
  // Unknown characters without a byte token become <unk>.
  EXPECT_EQ(tok->encode("z", false), (Ids{6, 0}));
}

TEST(Spm, SpecialAndUserDefinedTokens) {
  const auto tok = Tokenizer::from_spec(tiny_spm());
  // User-defined tokens always match; control tokens only with parse_special.
  EXPECT_EQ(tok->encode("a<usr>b", false), (Ids{6, 7, 13, 6, 8}));
  const Ids plain = tok->encode("<ctl>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 12), 0);
  EXPECT_EQ(tok->encode("<ctl>", false, true), (Ids{12}));
  EXPECT_TRUE(tok->is_control(12));
  EXPECT_EQ(tok->token_to_piece(12, false), "");
  EXPECT_EQ(tok->token_to_piece(12, true), "<ctl>");
  EXPECT_EQ(tok->decode({1, 10}), "ab");
  EXPECT_EQ(tok->decode({1, 10}, true), "<s> ab");
  EXPECT_THROW(tok->token_to_piece(999), helix::Error);
  EXPECT_THROW(tok->token_to_piece(-1), helix::Error);
}

TEST(Spm, FlagsFromSpec) {
  VocabSpec s = tiny_spm();
  s.add_space_prefix = false;
  s.add_eos = true;
  s.bos = -1;
  s.add_bos = false;
  const auto tok = Tokenizer::from_spec(s);
  EXPECT_EQ(tok->bos(), -1);
  EXPECT_EQ(tok->encode("ab", true), (Ids{9, 2}));
  EXPECT_TRUE(tok->is_eog(2));
  EXPECT_FALSE(tok->is_eog(9));
}

TEST(Spm, RstripForPhi3) {
  VocabSpec s = tiny_spm();
  s.name = "Phi3";
  const auto tok = Tokenizer::from_spec(s);
  // Whitespace after a user-defined token is eaten (llama.cpp's rstrip for Phi-3).
  EXPECT_EQ(tok->encode("<usr>   ab", false), (Ids{13, 10}));
}

TEST(Bpe, TinyByteLevel) {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = "gpt-2";
  // Single bytes 'a', 'b', 'Ġ' (space), then merges.
  s.tokens = {"a", "b", "\xc4\xa0", "ab", "\xc4\xa0" "ab", "<|endoftext|>"};
  s.types = {1, 1, 1, 1, 1, 3};
  s.merges = {"a b", "\xc4\xa0 ab"};
  s.bos = 5;
  s.eos = 5;
  const auto tok = Tokenizer::from_spec(s);
  EXPECT_EQ(tok->encode("ab ab", false), (Ids{3, 4}));
  EXPECT_EQ(tok->encode("ab ab", true), (Ids{3, 4}));  // gpt-2 adds no BOS
  EXPECT_EQ(tok->decode({3, 4}), "ab ab");
  EXPECT_EQ(tok->encode("<|endoftext|>", false, true), (Ids{5}));
  EXPECT_TRUE(tok->is_eog(5));
  // Bytes without a token are dropped (as llama.cpp), never a crash.
  EXPECT_EQ(tok->encode("a\xff", false), (Ids{0}));
}

TEST(Bpe, MissingMergesOrUnknownModelFail) {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = "gpt-2";
  s.tokens = {"a"};
  EXPECT_THROW(Tokenizer::from_spec(s), helix::Error);
  s.model = "unigram-xyz";
  EXPECT_THROW(Tokenizer::from_spec(s), helix::Error);
  s.model = "gpt2";
  s.merges = {"a a"};
  s.pre = "unknown-pre";
  EXPECT_THROW(Tokenizer::from_spec(s), helix::Error);
  s.tokens.clear();
  EXPECT_THROW(Tokenizer::from_spec(s), helix::Error);
}

TEST(WordPiece, TinyVocabulary) {
  VocabSpec s;
  s.model = "bert";
  s.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "\xe2\x96\x81" "hello", "\xe2\x96\x81" "wor", "ld",
              "\xe2\x96\x81" "!", "\xe2\x96\x81" "cafe"};
  s.types = {3, 3, 3, 3, 1, 1, 1, 1, 1};
  s.bos = 2;
  s.sep = 3;
  s.unk = 1;
  s.pad = 0;
  const auto tok = Tokenizer::from_spec(s);
  EXPECT_EQ(tok->encode("Hello WORLD!", true), (Ids{2, 4, 5, 6, 7, 3}));
  EXPECT_EQ(tok->encode("Caf\xc3\xa9 xyz", false), (Ids{8, 1}));
  EXPECT_EQ(tok->decode(tok->encode("hello world!", false)), "hello world !");
}

// BERT's normalisation as Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece do it
// (checked in full against them by tests/python/test_tokenizer_reference.py).
TEST(WordPiece, BertNormalization) {
  VocabSpec s;
  s.model = "bert";
  const std::string w = "\xe2\x96\x81";  // word start
  s.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
              w + "a", "a", w + "ab", w + "naive", w + "~",
              w + "\xe0\xa4\xa8",                 // न
              "\xe0\xa5\x80",                     // ी (Mc)
              w + "\xe0\xb3\x95",                 // ೕ (Mc, from ೀ)
              w + "\xe1\x84\x92", "\xe1\x85\xa1", "\xe1\x86\xab",  // ᄒ ᅡ ᆫ
              w + "\xe4\xb8\xad", w + "\xe6\x96\x87",    // 中 文
              "\xf0\x9d\x85\xa5", "\xf0\x9d\x85\xad",  // U+1D165 (class 216), U+1D16D (226)
              w + "\xc2\xa7"};                       // §
  s.bos = 2;
  s.sep = 3;
  s.unk = 1;
  s.pad = 0;
  const auto tok = Tokenizer::from_spec(s);
  auto ids = [&](const std::string& t) { return tok->encode(t, false); };
  EXPECT_EQ(ids("N\xc3\xa4\xc3\xafve"), (Ids{7}));                  // accents stripped, lowercased
  EXPECT_EQ(ids("\xe0\xa4\xa8\xe0\xa5\x80"), (Ids{9, 10}));           // नी: the vowel sign (Mc) stays
  EXPECT_EQ(ids("\xe0\xb3\x80"), (Ids{11}));                        // ೀ -> ಿ (Mn, dropped) + ೕ
  EXPECT_EQ(ids("a\xe2\x80\x8d" "b"), (Ids{6}));                     // ZWJ (Cf) removed
  EXPECT_EQ(ids("a\x0b" "b a\xc2\x85" "b"), (Ids{6, 6}));             // VT, NEL: controls, removed
  EXPECT_EQ(ids("a\xe2\x80\xa8" "a"), (Ids{4, 4}));                   // U+2028 is whitespace
  EXPECT_EQ(ids("a~a\xc2\xa7"), (Ids{4, 8, 4, 19}));                 // punctuation isolated
  EXPECT_EQ(ids("\xed\x95\x9c"), (Ids{12, 13, 14}));                // 한 -> jamo
  EXPECT_EQ(ids("a\xe4\xb8\xad\xe6\x96\x87"), (Ids{4, 15, 16}));     // CJK characters are words
  // Canonical ordering of the marks that stay: U+1D16D U+0301 U+1D165 -> U+1D165 U+1D16D.
  EXPECT_EQ(ids("a\xf0\x9d\x85\xad\xcc\x81\xf0\x9d\x85\xa5"), (Ids{4, 17, 18}));
  Ids hundred(100, 5);
  hundred[0] = 4;
  EXPECT_EQ(ids(std::string(100, 'a')), hundred);                 // 100 characters: a word
  EXPECT_EQ(ids(std::string(101, 'a') + " a"), (Ids{1, 4}));       // over 100: [UNK]
  EXPECT_EQ(ids(std::string(100, 'a') + "\xcc\x81"), hundred);   // counted after normalising
}

TEST(HfJson, ByteLevelBpeAndWordPiece) {
  const auto bpe = Tokenizer::from_hf_json(R"({
    "added_tokens": [{"id": 5, "content": "<|endoftext|>", "special": true}],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
    "post_processor": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "\u0120": 2, "ab": 3, "\u0120ab": 4},
              "merges": ["a b", ["\u0120", "ab"]]}})");
  EXPECT_EQ(bpe->encode("ab ab<|endoftext|>", true, true), (Ids{3, 4, 5}));
  EXPECT_EQ(bpe->bos(), -1);
  const auto wp = Tokenizer::from_hf_json(R"({
    "added_tokens": [{"id": 0, "content": "[UNK]", "special": true},
                     {"id": 1, "content": "[CLS]", "special": true},
                     {"id": 2, "content": "[SEP]", "special": true}],
    "normalizer": {"type": "BertNormalizer", "lowercase": true, "strip_accents": null},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
      "pair": [], "special_tokens": {}},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "un": 3, "##able": 4, "!": 5}}})");
  EXPECT_EQ(wp->encode("Unable!", true), (Ids{1, 3, 4, 5, 2}));
  EXPECT_EQ(wp->encode("zzz", false), (Ids{0}));
  EXPECT_THROW(Tokenizer::from_hf_json("{not json"), helix::Error);
  EXPECT_THROW(Tokenizer::from_hf_json(R"({"model": {"type": "Unigram", "vocab": []}})"), helix::Error);
}

TEST(HfJson, SplitStepsNameTheirFamily) {
  auto with_pre = [](const std::string& pre) {
    return R"({"pre_tokenizer": )" + pre + R"(, "model": {"type": "BPE", "vocab": {"a": 0, "1": 1,
              "b": 2, "ab": 3}, "merges": ["a b"]}})";
  };
  const std::string byte_level = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";
  // StarCoder: Digits (one per digit) before the GPT-2 split.
  const auto sc = Tokenizer::from_hf_json(with_pre(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Digits", "individual_digits": true}, )" + byte_level + "]}"));
  EXPECT_EQ(sc->encode("ab11", false), (Ids{3, 1, 1}));
  try {
    Tokenizer::from_hf_json(with_pre(R"({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "a+"}, "behavior": "Isolated", "invert": false},
        )" + byte_level + "]}"));
    FAIL() << "no error";
  } catch (const helix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("a+"), std::string::npos) << e.what();
  }
}

TEST(StreamDecoder, HoldsBackIncompleteCharacters) {
  const auto tok = Tokenizer::from_spec(tiny_spm());
  StreamDecoder sd(*tok);
  EXPECT_EQ(sd.push(7), "a");
  EXPECT_EQ(sd.push(4), "");  // 0xC3: first half of é
  EXPECT_EQ(sd.push(5), "\xc3\xa9");
  EXPECT_EQ(sd.push(4), "");
  EXPECT_EQ(sd.push(7), "\xef\xbf\xbd" "a");  // broken sequence becomes U+FFFD, never raw bytes
  EXPECT_EQ(sd.push(4), "");
  EXPECT_EQ(sd.finish(), "\xef\xbf\xbd");
  EXPECT_EQ(sd.push(12), "");  // control tokens are not shown by default
  StreamDecoder special(*tok, true);
  EXPECT_EQ(special.push(12), "<ctl>");
}

TEST(StreamDecoder, StreamEqualsDecodeOnRealVocab) {
  const auto tok = load("llama-spm");
  const std::string text = "Hello 🦙 world, 你好！ naïve ✨ \xf0\x9f\x98\x80 done";
  const Ids ids = tok->encode(text, false);
  StreamDecoder sd(*tok);
  std::string streamed;
  for (const int32_t id : ids) {
    const std::string part = sd.push(id);
    EXPECT_TRUE(is_valid_utf8(part)) << id;
    streamed += part;
  }
  streamed += sd.finish();
  EXPECT_EQ(streamed, " " + text);  // the stream keeps the prefix space; decode() removes it
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(RoundTrip, SharedVocabularies) {
  const std::vector<std::string> texts = {
      "Hello world", "  leading spaces", "tabs\tand\nnewlines\n\n", "中文和English混合 123",
      "emoji 👨‍👩‍👧‍👦 🇯🇵 ok", "x = f(a, b)  # comment", "", " ", "ÄÖÜ äöü ß"};
  for (const char* name : {"llama-spm", "phi-3", "gpt-2", "falcon", "deepseek-llm"}) {
    const auto tok = load(name);
    for (const std::string& t : texts) {
      EXPECT_EQ(tok->decode(tok->encode(t, false)), t) << name << ": '" << t << "'";
      EXPECT_EQ(tok->decode(tok->encode(t, true)), t) << name << ": '" << t << "'";
    }
  }
}

std::string spaces(std::string s) {
  for (size_t k; (k = s.find("\xe2\x96\x81")) != std::string::npos;) s.replace(k, 3, " ");
  return s;
}

TEST(Robustness, RandomBytesNeverFail) {
  std::mt19937 rng(7);
  for (const char* name : {"llama-spm", "phi-3", "gpt-2", "falcon", "deepseek-llm", "bert-bge"}) {
    const auto tok = load(name);
    for (int i = 0; i < 200; ++i) {
      std::string s(rng() % 64, '\0');
      for (char& c : s) c = static_cast<char>(rng() % 256);
      for (const bool special : {false, true}) {
        const Ids ids = tok->encode(s, true, special);
        for (const int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab()) << name;
        const std::string back = tok->decode(ids, special);
        // Byte fallback keeps every byte. (A space after a broken UTF-8 lead byte is split into
        // the bytes of U+2581 by llama.cpp's character segmentation, so compare modulo that.)
        const bool lossless = std::string(name) == "llama-spm" || std::string(name) == "phi-3";
        if (lossless && !special) {
          EXPECT_EQ(spaces(back), spaces(s)) << name;
        }
      }
    }
  }
}

TEST(DefaultModel, GemmaTokenizer) {
  const std::string path = default_model();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "default model not installed at " << path;
  const auto tok = Tokenizer::from_gguf(helix::gguf::GGUFFile::open(path));
  EXPECT_EQ(tok->type(), VocabType::kSpm);
  EXPECT_EQ(tok->n_vocab(), 262144);
  EXPECT_EQ(tok->bos(), 2);
  EXPECT_EQ(tok->eos(), 1);
  EXPECT_FALSE(tok->add_space_prefix());
  const int32_t eot = tok->find_token("<end_of_turn>");
  ASSERT_GE(eot, 0);
  EXPECT_TRUE(tok->is_eog(eot));
  EXPECT_TRUE(tok->is_eog(1));
  EXPECT_EQ(tok->encode("Hello world", true), (Ids{2, 9259, 1902}));
  EXPECT_EQ(tok->encode("<start_of_turn>user\n", false, true), (Ids{105, 2364, 107}));
  EXPECT_NE(tok->encode("<start_of_turn>", false, false), (Ids{105}));
  const std::string text = "  Mixed 中文 text\n\n\twith 😀 and <b>tags</b> ";
  EXPECT_EQ(tok->decode(tok->encode(text)), text);
}

}  // namespace

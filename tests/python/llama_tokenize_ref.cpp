// Reference token ids from llama.cpp itself, for make_tokenizer_llama_cpp_reference.py (not part
// of the build or of CI): loads a GGUF vocabulary with vocab_only and runs llama_tokenize /
// llama_token_to_piece through llama.cpp's public API (llama.h).
//
//   llama_tokenize_ref MODEL tokenize ADD_SPECIAL PARSE_SPECIAL < texts > ids
//     stdin: texts, each as "<byte count>\n<bytes>"; stdout: one line of ids per text
//   llama_tokenize_ref MODEL pieces SPECIAL > pieces
//     stdout: one line per token id, its piece's bytes in hex ("" for an empty piece)
//   llama_tokenize_ref MODEL time ADD_SPECIAL PARSE_SPECIAL < text > ids
//     (bench/tokenizer_bench.py) all of stdin as one text; stdout its ids on one line, stderr
//     "tokens N cpu_seconds S wall_seconds W" for the llama_tokenize call
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <iterator>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "llama.h"

static void quiet(ggml_log_level, const char*, void*) {}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL tokenize ADD PARSE | MODEL pieces SPECIAL\n", argv[0]);
    return 2;
  }
  llama_log_set(quiet, nullptr);
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  llama_model* model = llama_model_load_from_file(argv[1], mp);
  if (!model) {
    std::fprintf(stderr, "cannot load %s\n", argv[1]);
    return 1;
  }
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const std::string mode = argv[2];
  if (mode == "pieces") {
    const bool special = std::atoi(argv[3]) != 0;
    std::vector<char> buf(1 << 16);
    for (int32_t id = 0; id < llama_vocab_n_tokens(vocab); ++id) {
      const int32_t n = llama_token_to_piece(vocab, id, buf.data(), static_cast<int32_t>(buf.size()), 0, special);
      for (int32_t i = 0; i < n; ++i) std::printf("%02x", static_cast<unsigned char>(buf[i]));
      std::printf("\n");
    }
    return 0;
  }
  const bool add = std::atoi(argv[3]) != 0, parse = argc > 4 && std::atoi(argv[4]) != 0;
  std::vector<llama_token> ids;
  if (mode == "time") {
    const std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    ids.resize(text.size() + 16);
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    const int32_t n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), ids.data(),
                                     static_cast<int32_t>(ids.size()), add, parse);
    const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (n < 0) return 1;
    for (int32_t i = 0; i < n; ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
    std::fprintf(stderr, "tokens %d cpu_seconds %.6f wall_seconds %.6f\n", n, cpu, wall);
    return 0;
  }
  for (;;) {
    size_t len = 0;
    if (std::scanf("%zu", &len) != 1) break;
    std::getchar();  // the newline after the count
    std::string text(len, '\0');
    if (len && std::fread(text.data(), 1, len, stdin) != len) return 1;
    ids.resize(text.size() + 16);
    int32_t n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), ids.data(),
                               static_cast<int32_t>(ids.size()), add, parse);
    if (n < 0) {
      ids.resize(static_cast<size_t>(-n));
      n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), ids.data(),
                         static_cast<int32_t>(ids.size()), add, parse);
    }
    for (int32_t i = 0; i < n; ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
  }
  llama_model_free(model);
  return 0;
}

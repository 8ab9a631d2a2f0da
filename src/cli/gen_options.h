// Options shared by the generating commands (run, chat, perplexity), spelled as llama.cpp spells
// them: -m -p -f -n -c -t -b --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n
// --presence-penalty --frequency-penalty --seed --stop; and --json / --json-schema FILE for
// structured output.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "runtime/session.h"

namespace helix::cli {

struct GenOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  std::string system;
  int64_t n_predict = -1;
  int64_t n_ctx = 4096;
  int64_t n_batch = 512;
  int threads = 0;  // 0: all cores
  bool profile = false;
  bool no_bos = false;
  runtime::GenerateOptions gen;
  std::shared_ptr<const grammar::Grammar> grammar;  // --json (any object) or --json-schema FILE
  std::vector<std::string> rest;  // positional arguments
};

// Parses argv[1..] into o; unknown flags throw helix::Error naming them. `usage` is printed by
// --help (returns false then: the caller exits 0).
bool parse_gen_options(int argc, char** argv, GenOptions& o, const char* usage);

// Loads the model (default when o.model is empty) and its tokenizer, applies -t, and reports
// the load on stderr.
struct Loaded {
  std::shared_ptr<model::Model> model;
  std::shared_ptr<tok::Tokenizer> tokenizer;
  std::string path;
  double load_s = 0;
};
Loaded load_for_generation(const GenOptions& o);

// Binds --json / --json-schema to the loaded model's vocabulary (sets o.gen.sampling.constraint).
void bind_grammar(GenOptions& o, const Loaded& l);

}  // namespace helix::cli

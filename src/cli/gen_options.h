// Options shared by the generating commands (run, chat, perplexity, serve), spelled as llama.cpp
// spells them: -m -p -f -n -c -t -b --temp --top-k --top-p --min-p --repeat-penalty
// --repeat-last-n --presence-penalty --frequency-penalty --logit-bias --seed --stop; --json /
// --json-schema FILE for structured output; --chat-template FILE for the commands that render chat.
// Every numeric value is checked against its allowed range when parsed.
#pragma once

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"
#include "runtime/session.h"

namespace helix::cli {

struct GenOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  std::string system;
  int64_t n_predict = -1;  // -1: until end of generation or a full context
  int64_t n_ctx = 4096;
  int64_t n_batch = 512;
  int threads = 0;  // 0: not given ($HELIX_THREADS, else all cores)
  bool profile = false;
  bool no_bos = false;
  bool chat = false;          // run: render the prompt as a user turn (--chat, or --chat-template)
  std::string chat_template;  // --chat-template FILE's text, checked to parse; empty: the model's own
  runtime::GenerateOptions gen;
  std::shared_ptr<const grammar::Grammar> grammar;  // --json (any object) or --json-schema FILE
  std::vector<std::string> lora;  // --lora FILE[:SCALE] | NAME=FILE[:SCALE] (cli/lora_flags.h)
  bool named_lora = false;        // NAME=FILE allowed (helix serve)
  std::vector<std::string> rest;  // positional arguments
};

// Parses argv[1..] into o; unknown flags and values out of range throw helix::Error naming them.
// `usage` is printed by --help (returns false then: the caller exits 0).
bool parse_gen_options(int argc, char** argv, GenOptions& o, const char* usage);

// Checked numeric values of command-line flags: a value that is not a number (or NaN/inf), or
// one outside [lo, hi], throws helix::Error naming the flag and the allowed range.
int64_t int_flag(const std::string& flag, const std::string& value, int64_t lo,
                 int64_t hi = std::numeric_limits<int64_t>::max());
double float_flag(const std::string& flag, const std::string& value, double lo,
                  double hi = std::numeric_limits<double>::infinity(), bool lo_exclusive = false);
// $HELIX_THREADS checked the same way (1..1024); 0 when unset. Throws on "abc", "0", "-2".
int threads_from_env();

// Loads the model (default when o.model is empty) and its tokenizer, applies -t, and reports
// the load on stderr.
struct Loaded {
  std::shared_ptr<model::Model> model;
  std::shared_ptr<tok::Tokenizer> tokenizer;
  std::string path;
  std::string adapter_chat_template;  // the chat template a --lora adapter was trained with ("": none)
  double load_s = 0;
};
Loaded load_for_generation(const GenOptions& o);

// Binds --json / --json-schema to the loaded model's vocabulary (sets o.gen.sampling.constraint).
void bind_grammar(GenOptions& o, const Loaded& l);

// The chat template to render with: --chat-template's text if given, else the one a --lora
// adapter carries (helix.chat_template), else the model's own (or the built-in one for its family).
std::string chat_template_of(const GenOptions& o, const Loaded& l);

// Renders `messages` through `tmpl` with the generation prompt and tokenizes the text (special
// tokens parsed), adding the beginning-of-text token only where the template did not write it.
std::vector<int32_t> encode_chat(const std::string& tmpl, const nlohmann::ordered_json& messages,
                                 const tok::Tokenizer& tok);

}  // namespace helix::cli

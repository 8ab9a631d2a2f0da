// helix: the command-line entry point. Dispatches to subcommands; every error reaches the user
// as one line on stderr saying what went wrong, with exit status 1.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

#include "cli/commands.h"
#include "cli/gen_options.h"
#include "helix_version.h"  // generated at build time (cmake/version.cmake)

namespace {

int cmd_version(int, char**) {
  const char* git = HELIX_GIT_DESCRIBE;
  std::printf("helix %s%s%s%s\n", HELIX_VERSION, *git ? " (git " : "", git, *git ? ")" : "");
  return 0;
}

struct Command {
  const char* name;
  int (*fn)(int, char**);
  const char* help;
};

constexpr Command kCommands[] = {
    {"inspect", helix::cli::cmd_inspect, "print a model file's metadata and tensor table"},
    {"run", helix::cli::cmd_run, "complete a prompt, streaming the text (speeds on stderr)"},
    {"chat", helix::cli::cmd_chat, "chat with a model in the terminal"},
    {"perplexity", helix::cli::cmd_perplexity, "perplexity of a model on a text file"},
    {"bench", helix::cli::cmd_bench, "measure load, prefill and decode speed (JSON; see bench/compare_llama_cpp.py)"},
    {"tiny-model", helix::cli::cmd_tiny_model, "(for tests) write a tiny random model of an architecture"},
    {"logits", helix::cli::cmd_logits, "(for tests) write a model's logits for token sequences as raw f32"},
    {"sample", helix::cli::cmd_sample, "(for tests) run the sampling chain on logits given as JSON on stdin"},
    {"quantize", helix::cli::cmd_quantize, "convert a GGUF model's weights to another type (Q4_K_M, Q8_0, F16, ...)"},
    {"dequant", helix::cli::cmd_dequant, "(for tests) write a GGUF file's tensors as raw f32"},
    {"tokenize", helix::cli::cmd_tokenize, "tokenize text with a model's tokenizer (ids and pieces)"},
    {"template", helix::cli::cmd_template, "render a model's chat template for a conversation"},
    {"serve", helix::cli::cmd_serve, "serve a model over an OpenAI-compatible HTTP API"},
    {"sft", helix::cli::cmd_sft, "supervised fine-tuning: run a recipe (stages, evals) or one LoRA/full stage on JSONL"},
    {"flywheel", helix::cli::cmd_flywheel, "turn feedback stored by serve --feedback-db into SFT and preference JSONL"},
    {"embed", helix::cli::cmd_embed, "sentence embeddings of texts with a BERT encoder (all-MiniLM-L6-v2)"},
    {"mcp", helix::cli::cmd_mcp, "serve Helix's tools (generate, embed, kb_search) to MCP clients over stdio"},
    {"rm", helix::cli::cmd_rm, "reward models: train heads per aspect (and LoRA) on preferences; score replies"},
    {"kb", helix::cli::cmd_kb, "knowledge bases: add documents (txt, md, html, pdf, docx), hybrid search"},
    {"plugin", helix::cli::cmd_plugin, "plugins the model can call: add|list|rm|test (OpenAPI, MCP, built-ins)"},
    {"ask", helix::cli::cmd_ask, "answer a question from a knowledge base, citing the passages [n]"},
    {"chatfile", helix::cli::cmd_chatfile, "summaries, topics, meeting minutes and cited Q&A for long documents"},
    {"version", cmd_version, "print the version (also --version)"},
    {"lora", helix::cli::cmd_lora, "merge a LoRA adapter into a model (helix lora merge BASE ADAPTER OUT)"},
};

void usage(FILE* out) {
  std::fprintf(out, "usage: helix <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-12s %s\n", c.name, c.help);
  std::fprintf(out, "\nRun 'helix <command> --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string_view name = argv[1];
  if (name == "--version" || name == "-V") return cmd_version(argc - 1, argv + 1);
  try {
    helix::cli::threads_from_env();  // HELIX_THREADS=abc or 0 is refused before any work
  } catch (const std::exception& e) {
    std::fprintf(stderr, "helix: error: %s\n", e.what());
    return 2;
  }
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.fn(argc - 1, argv + 1);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "helix %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "helix: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}

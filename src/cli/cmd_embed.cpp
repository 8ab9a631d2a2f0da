// helix embed [-m EMBED_MODEL] [--json] [-f FILE] TEXT...
// Sentence embeddings with a BERT encoder (e.g. all-MiniLM-L6-v2): a Hugging Face /
// sentence-transformers directory or a GGUF bert file. Prints one embedding per text, as a line
// of space-separated floats, or with --json one JSON object {"model", "dim", "embeddings"}.
// -f FILE reads one text per line ('-' for stdin); every line is a text, so output line i
// belongs to input line i. Without -m the model is $HELIX_EMBED_MODEL, else the directory
// $XDG_DATA_HOME/helix/models/embed (default ~/.local/share/helix/models/embed) that
// scripts/setup.sh installs. --write-gguf OUT converts the model to a GGUF bert file.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/flags.h"
#include "cli/gen_options.h"
#include "core/error.h"
#include "core/files.h"
#include "core/thread_pool.h"
#include "model/bert.h"

namespace helix::cli {
namespace {

std::string usage_text() {
  return "usage: helix embed [-m EMBED_MODEL] [--json] [-f FILE] TEXT...\n"
         "  -m EMBED_MODEL     model directory (config.json, model.safetensors, tokenizer.json)\n"
         "                     or GGUF bert file (default: $HELIX_EMBED_MODEL, else the installed\n"
         "                     ~/.local/share/helix/models/embed)\n"
         "  -f FILE            one text per line ('-' for stdin), after any TEXT arguments\n"
         "  --json             print {\"model\", \"dim\", \"embeddings\": [[...], ...]}\n"
         "  --batch-tokens N   tokens per forward batch (default 2048)\n"
         "  -t N               threads (default: all cores, or $HELIX_THREADS)\n"
         "  --stats            report texts, tokens and seconds on stderr\n"
         "  --write-gguf OUT   write the model as a GGUF bert file (then embed any texts)\n";
}

void read_lines(const std::string& path, std::vector<std::string>& texts) {
  std::istringstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.str(read_file(path, "text file"));
    in = &file;
  }
  for (std::string line; std::getline(*in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    texts.push_back(std::move(line));
  }
}

}  // namespace

int cmd_embed(int argc, char** argv) {
  std::string model, gguf_out;
  std::vector<std::string> texts, files;
  bool json_out = false, stats = false;
  int64_t batch_tokens = 0, threads = 0;
  Flags f("helix embed", usage_text());
  f.value({"-m", "--model"}, model).values({"-f", "--file"}, files).flag({"--json"}, json_out).flag({"--stats"}, stats)
      .integer({"--batch-tokens"}, batch_tokens, 1, int64_t{1} << 24).integer({"-t", "--threads"}, threads, 1, 1024)
      .value({"--write-gguf"}, gguf_out);
  if (!f.parse(argc, argv)) return 0;
  texts = f.positional();
  if (threads > 0) ThreadPool::set_global_threads(static_cast<int>(threads));
  for (const auto& f : files) read_lines(f, texts);
  if (texts.empty() && gguf_out.empty()) {
    std::fputs(usage_text().c_str(), stderr);
    throw Error("give at least one TEXT or -f FILE");
  }

  const std::string path = resolve_embed_model_path(model);
  auto enc = model::BertEncoder::load(path);
  if (batch_tokens > 0) enc->set_batch_tokens(batch_tokens);
  if (!gguf_out.empty()) enc->write_gguf(gguf_out);
  if (texts.empty()) return 0;

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::vector<float>> emb = enc->embed(texts);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (stats) {
    size_t tokens = 0;
    for (const auto& t : texts) tokens += enc->tokenize(t).size();
    std::fprintf(stderr, "texts %zu tokens %zu seconds %.4f texts_per_second %.2f threads %d\n", texts.size(),
                 tokens, secs, static_cast<double>(texts.size()) / secs, ThreadPool::global().size());
  }

  std::string out;
  if (json_out) {
    nlohmann::json j;
    j["model"] = path;
    j["dim"] = enc->dim();
    j["embeddings"] = emb;
    out = j.dump();
    out.push_back('\n');
  } else {
    char buf[32];
    for (const auto& e : emb) {
      for (size_t i = 0; i < e.size(); ++i) {
        std::snprintf(buf, sizeof buf, i ? " %.7g" : "%.7g", static_cast<double>(e[i]));
        out += buf;
      }
      out.push_back('\n');
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace helix::cli

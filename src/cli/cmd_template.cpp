// helix template [-m MODEL | --template FILE.jinja | --fallback] --messages FILE.json
//                [--tools FILE.json] [--add-generation-prompt] [--bos TEXT] [--eos TEXT]
//                [--var NAME=JSON]... [--show-template]
// Renders a chat template for a conversation and prints exactly the rendered text on stdout
// (no newline added). With -m (or neither -m nor --template: the default model) the template
// is the model's tokenizer.chat_template, and BOS/EOS text comes from its vocabulary; a model
// without one gets the template `helix chat` uses for it (a built-in one for its family, else
// the fallback ChatML template), noted on stderr.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "chat/template.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "core/error.h"
#include "core/files.h"
#include "io/gguf.h"
#include "runtime/session.h"

namespace helix::cli {
namespace {

using Json = nlohmann::ordered_json;

void usage(FILE* out) {
  std::fprintf(
      out,
      "usage: helix template [-m MODEL | --template FILE.jinja | --fallback] --messages FILE.json\n"
      "                      [--tools FILE.json] [--add-generation-prompt] [--bos TEXT] [--eos "
      "TEXT]\n"
      "                      [--var NAME=JSON]... [--show-template]\n"
      "  -m MODEL                 use the GGUF model's tokenizer.chat_template (default: the\n"
      "                           installed default model; a model without one gets the\n"
      "                           template helix chat uses for it) and its BOS/EOS text\n"
      "  --template FILE          use a Jinja template file\n"
      "  --fallback               use Helix's fallback ChatML template\n"
      "  --messages FILE          JSON list of messages ('-' for stdin), or an object with\n"
      "                           \"messages\" (and optionally \"tools\")\n"
      "  --tools FILE             JSON list of tools (OpenAI format); default: none (None)\n"
      "  --add-generation-prompt  end with the assistant turn's opening\n"
      "  --bos TEXT, --eos TEXT   bos_token / eos_token text (override the model's)\n"
      "  --var NAME=JSON          an extra template variable, e.g. enable_thinking=false\n"
      "                           (a value that is not JSON is taken as a string)\n"
      "  --show-template          print the template source instead of rendering\n");
}

std::string read_all(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  return read_file(path, "file");
}

Json read_json(const std::string& path) {
  const std::string text = read_all(path);
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(path, ": invalid JSON: ", e.what()));
  }
}

std::string token_text(const gguf::GGUFFile& f, const char* id_key) {
  const gguf::Value* id = f.find(id_key);
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  if (!id || !tokens || !tokens->is_array()) return "";
  const uint64_t i = id->as_uint();
  if (i >= tokens->size()) return "";
  return tokens->elems()[i].as_string();
}

}  // namespace

int cmd_template(int argc, char** argv) {
  std::string model, template_file, messages_file, tools_file;
  std::optional<std::string> bos, eos;
  bool fallback = false, add_generation_prompt = false, show = false;
  Json extra = Json::object();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(cat(a, " needs a value"));
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else if (a == "-m" || a == "--model") {
      model = value();
    } else if (a == "--template") {
      template_file = value();
    } else if (a == "--fallback") {
      fallback = true;
    } else if (a == "--messages") {
      messages_file = value();
    } else if (a == "--tools") {
      tools_file = value();
    } else if (a == "--add-generation-prompt") {
      add_generation_prompt = true;
    } else if (a == "--bos") {
      bos = value();
    } else if (a == "--eos") {
      eos = value();
    } else if (a == "--show-template") {
      show = true;
    } else if (a == "--var") {
      const std::string kv = value();
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw Error(cat("--var expects NAME=JSON, got '", kv, "'"));
      const std::string text = kv.substr(eq + 1);
      Json v = Json::parse(text, nullptr, false);
      extra[kv.substr(0, eq)] = v.is_discarded() ? Json(text) : v;
    } else {
      usage(stderr);
      throw Error(cat("unknown option '", a, "'"));
    }
  }
  if ((!model.empty()) + (!template_file.empty()) + fallback > 1)
    throw Error("give only one of -m, --template and --fallback");

  std::string source;
  if (fallback) {
    source = chat::fallback_chat_template();
  } else if (!template_file.empty()) {
    source = read_all(template_file);
  } else {
    const std::string path = resolve_model_path(model);
    const auto f = gguf::GGUFFile::open(path);
    source = f.get_string("tokenizer.chat_template", "");
    if (source.empty()) {  // what `helix chat` and `helix serve` use for this model
      source = runtime::chat_template_for(f);
      const bool chatml = source == chat::fallback_chat_template();
      std::fprintf(stderr,
                   "helix template: note: %s has no tokenizer.chat_template; using Helix's %s\n",
                   path.c_str(),
                   chatml ? "fallback ChatML template" : "built-in template for its model family");
    }
    if (!bos) bos = token_text(f, "tokenizer.ggml.bos_token_id");
    if (!eos) eos = token_text(f, "tokenizer.ggml.eos_token_id");
  }
  if (show) {
    std::fwrite(source.data(), 1, source.size(), stdout);
    return 0;
  }
  if (messages_file.empty()) throw Error("--messages FILE is required (see helix template --help)");

  Json messages = read_json(messages_file);
  Json tools = nullptr;
  if (messages.is_object()) {
    if (messages.contains("tools")) tools = messages["tools"];
    messages = messages.contains("messages") ? Json(messages["messages"]) : Json::array();
  }
  if (!tools_file.empty()) tools = read_json(tools_file);

  const std::string out = chat::render_chat(source, messages, tools, add_generation_prompt,
                                            bos.value_or(""), eos.value_or(""), extra);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace helix::cli

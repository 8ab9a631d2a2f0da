// helix chat: an interactive conversation with a model through its own chat template. Each turn
// re-renders the whole conversation; the session reuses the cached prefix, so only the new turn
// is computed. Ctrl-C stops the reply in progress (not the program); Ctrl-D or /exit quits.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "chat/template.h"
#include "cli/commands.h"
#include "cli/gen_options.h"
#include "core/error.h"

namespace helix::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted.store(true); }

constexpr const char* kUsage =
    "usage: helix chat [-m MODEL] [-s SYSTEM_PROMPT] [options of helix run]\n"
    "Type a message and press Enter. Commands:\n"
    "  /reset          forget the conversation (keeps the system prompt)\n"
    "  /system TEXT    set the system prompt and reset\n"
    "  /save FILE      save the conversation as JSON messages\n"
    "  /exit           quit (Ctrl-D too); Ctrl-C stops the current reply\n";

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace

int cmd_chat(int argc, char** argv) {
  GenOptions o;
  o.gen.sampling.temperature = 0.7f;
  if (!parse_gen_options(argc, argv, o, kUsage)) return 0;
  Loaded l = load_for_generation(o);
  const std::string tmpl = runtime::chat_template_for(l.model->file());
  chat::ChatTemplate::parse(tmpl);  // report template errors before the first turn
  const auto& tok = *l.tokenizer;
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
  runtime::Session session(l.model, l.tokenizer, o.n_ctx, o.n_batch);

  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: Ctrl-C at the prompt interrupts the read
  sigaction(SIGINT, &sa, nullptr);

  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::string system = o.system;
  auto reset = [&] {
    messages = nlohmann::ordered_json::array();
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  };
  reset();
  const bool tty = isatty(STDIN_FILENO);
  std::fprintf(stderr, "chatting with %s; /help for commands, Ctrl-D to quit\n", l.path.c_str());
  for (;;) {
    if (tty) std::fputs("\n> ", stdout);
    std::fflush(stdout);
    std::string line;
    g_interrupted.store(false);
    if (!std::getline(std::cin, line)) {
      if (g_interrupted.load() && !std::cin.eof()) {
        std::cin.clear();
        std::fputs("\n(Ctrl-C stops a reply; type /exit or press Ctrl-D to quit)", stdout);
        continue;
      }
      break;
    }
    line = trim(line);
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/help") {
      std::fputs(kUsage, stdout);
      continue;
    }
    if (line == "/reset") {
      reset();
      std::fputs("(conversation reset)\n", stdout);
      continue;
    }
    if (line.rfind("/system ", 0) == 0) {
      system = trim(line.substr(8));
      reset();
      std::fputs("(system prompt set; conversation reset)\n", stdout);
      continue;
    }
    if (line.rfind("/save ", 0) == 0) {
      const std::string path = trim(line.substr(6));
      std::ofstream f(path);
      f << messages.dump(2) << "\n";
      std::printf(f.good() ? "(saved %zu messages to %s)\n" : "(could not write %zu messages to %s)\n",
                  messages.size(), path.c_str());
      continue;
    }
    if (line[0] == '/') {
      std::printf("unknown command %s; /help lists them\n", line.c_str());
      continue;
    }
    messages.push_back({{"role", "user"}, {"content", line}});
    std::vector<int32_t> ids;
    try {
      const std::string text = chat::render_chat(tmpl, messages, nullptr, true, bos, eos);
      const bool has_bos = !bos.empty() && text.rfind(bos, 0) == 0;
      ids = tok.encode(text, !has_bos, true);
    } catch (const std::exception& e) {
      messages.erase(messages.size() - 1);
      std::printf("(cannot format this conversation: %s)\n", e.what());
      continue;
    }
    if (static_cast<int64_t>(ids.size()) + 16 >= o.n_ctx) {
      messages.erase(messages.size() - 1);
      std::printf("(the conversation has %zu tokens and the context holds %lld: /reset to start over, "
                  "or restart with a larger -c)\n", ids.size(), static_cast<long long>(o.n_ctx));
      continue;
    }
    session.set_tokens(ids);
    std::string reply;
    const auto reason = session.generate(o.gen, [&](const std::string& t) {
      reply += t;
      std::fwrite(t.data(), 1, t.size(), stdout);
      std::fflush(stdout);
    }, &g_interrupted);
    if (reason == runtime::FinishReason::Cancelled) std::fputs(" [stopped]", stdout);
    if (reason == runtime::FinishReason::ContextFull)
      std::fputs("\n(the context is full: /reset to start over, or restart with a larger -c)", stdout);
    std::fputs("\n", stdout);
    messages.push_back({{"role", "assistant"}, {"content", trim(reply)}});
  }
  std::fputs("\n", stdout);
  return 0;
}

}  // namespace helix::cli

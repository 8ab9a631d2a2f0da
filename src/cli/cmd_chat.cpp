// helix chat: an interactive conversation with a model through its chat template (the model's
// own, or --chat-template FILE). Each turn re-renders the whole conversation; the session reuses
// the cached prefix, so only the new turn is computed. On a terminal the input line has libedit's
// editing and history (kept in $XDG_STATE_HOME/helix/chat_history). The model's text is always
// shown through TerminalSanitizer: control characters it produces (ESC sequences and the like)
// are made visible, never written raw. When the conversation outgrows the context, the oldest
// turns are dropped (the system prompt stays). Ctrl-C stops the reply in progress (not the
// program); Ctrl-D or /exit quits.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "chat/template.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/gen_options.h"
#include "cli/plugin_chat.h"
#include "cli/terminal.h"
#include "core/error.h"

namespace helix::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted.store(true); }

constexpr const char* kUsage =
    "usage: helix chat [-m MODEL] [-s SYSTEM_PROMPT] [--chat-template FILE] [options of helix run]\n"
    "       [--plugins NAME...] [--tool-choice auto|required|TOOL] [--max-tool-steps N] [--no-adapter]\n"
    "With --plugins the model may call the plugins' tools (helix plugin list); Helix runs each call,\n"
    "shows it and its result, and lets the model answer (at most --max-tool-steps model turns, 4).\n"
    "--tool-choice applies to each turn's first step. Plugins use the installed assistant adapter\n"
    "when there is one (--no-adapter: the base model).\n"
    "Type a message and press Enter (arrow keys edit and recall earlier lines; the history is kept\n"
    "in $XDG_STATE_HOME/helix/chat_history). Commands:\n"
    "  /reset          forget the conversation (keeps the system prompt)\n"
    "  /system TEXT    set the system prompt and reset\n"
    "  /save FILE      save the conversation as JSON messages\n"
    "  /exit           quit (Ctrl-D too); Ctrl-C stops the current reply\n"
    "When the conversation outgrows the context (-c), its oldest turns are dropped.\n";

using Json = nlohmann::ordered_json;

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Writes the messages as JSON; returns "" or what went wrong (with the system's reason).
std::string save_messages(const std::string& path, const Json& messages) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return std::strerror(errno);
  const std::string text = messages.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
  const int err = errno;
  const bool closed = std::fclose(f) == 0;
  if (!wrote) return std::strerror(err);
  if (!closed) return std::strerror(errno);
  return "";
}

// Renders the conversation for the next reply, dropping its oldest turns (a user message and the
// replies after it; never the system prompt, never the newest message) until the prompt leaves
// `room` tokens of the context for the reply. Returns the ids and how many messages were dropped;
// throws when even the system prompt and the newest message do not fit.
std::vector<int32_t> fit_context(Json& messages, const std::string& tmpl, const tok::Tokenizer& tok,
                                 int64_t n_ctx, int64_t room, size_t& dropped) {
  dropped = 0;
  for (;;) {
    std::vector<int32_t> ids = encode_chat(tmpl, messages, tok);
    if (static_cast<int64_t>(ids.size()) + room <= n_ctx) return ids;
    size_t first = 0;
    while (first < messages.size() && messages[first]["role"] == "system") ++first;
    HELIX_CHECK(first + 1 < messages.size(), "this message needs ", ids.size(), " tokens with the system prompt ",
                "and the context holds ", n_ctx, " (", room, " kept for the reply): shorten it or restart with a larger -c");
    size_t end = first + 1;
    while (end + 1 < messages.size() && messages[end]["role"] != "user") ++end;
    messages.erase(messages.begin() + static_cast<std::ptrdiff_t>(first), messages.begin() + static_cast<std::ptrdiff_t>(end));
    dropped += end - first;
  }
}

struct Chat {
  GenOptions& o;
  Loaded& l;
  std::string tmpl;
  runtime::Session session;
  Json messages = Json::array();
  std::string system;
  bool told_dropping = false;
  PluginChat* plugins = nullptr;  // --plugins: turns run the tool loop

  void reset() {
    messages = Json::array();
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  }

  // Tokens kept free for the reply: -n if given (up to half the context), else a quarter.
  int64_t reply_room() const {
    return o.n_predict >= 0 ? std::max<int64_t>(1, std::min(o.n_predict, o.n_ctx / 2)) : o.n_ctx / 4;
  }

  // A /command; false when the line is a message for the model.
  bool command(const std::string& line) {
    if (line[0] != '/') return false;
    const size_t sp = line.find(' ');
    const std::string cmd = line.substr(0, sp), arg = sp == std::string::npos ? "" : trim(line.substr(sp));
    if (cmd == "/help") {
      std::fputs(kUsage, stdout);
    } else if (cmd == "/reset") {
      reset();
      std::fputs("(conversation reset)\n", stdout);
    } else if (cmd == "/system") {
      if (arg.empty()) {
        std::fputs("(/system needs the new system prompt: /system TEXT)\n", stdout);
        return true;
      }
      system = arg;
      reset();
      std::fputs("(system prompt set; conversation reset)\n", stdout);
    } else if (cmd == "/save") {
      if (arg.empty()) {
        std::fputs("(/save needs a file name: /save FILE writes the conversation as JSON messages)\n", stdout);
        return true;
      }
      const std::string err = save_messages(arg, messages);
      if (err.empty()) std::printf("(saved %zu messages to %s)\n", messages.size(), arg.c_str());
      else std::printf("(could not save to %s: %s)\n", arg.c_str(), err.c_str());
    } else {
      std::printf("(unknown command %s; /help lists them)\n", cmd.c_str());
    }
    return true;
  }

  void turn(const std::string& line) {
    messages.push_back({{"role", "user"}, {"content", line}});
    std::vector<int32_t> ids;
    size_t dropped = 0;
    try {
      ids = fit_context(messages, tmpl, *l.tokenizer, o.n_ctx, reply_room(), dropped);
    } catch (const std::exception& e) {
      messages.erase(messages.size() - 1);
      std::printf("(%s)\n", e.what());
      return;
    }
    if (dropped > 0 && !told_dropping) {
      std::printf("(the conversation outgrew the context of %lld tokens: dropping its oldest turns from now on; "
                  "the system prompt stays)\n", static_cast<long long>(o.n_ctx));
      told_dropping = true;
    }
    if (plugins) {
      plugins->turn(messages, session, reply_room(), &g_interrupted);
      return;
    }
    session.set_tokens(ids);
    std::string reply;
    TerminalSanitizer clean;
    const auto reason = session.generate(o.gen, [&](const std::string& t) {
      reply += t;
      const std::string shown = clean.push(t);
      std::fwrite(shown.data(), 1, shown.size(), stdout);
      std::fflush(stdout);
    }, &g_interrupted);
    std::fputs(clean.finish().c_str(), stdout);
    if (reason == runtime::FinishReason::Cancelled) std::fputs(" [stopped]", stdout);
    if (reason == runtime::FinishReason::ContextFull)
      std::fputs(" [cut: the context is full; older turns are dropped at the next message]", stdout);
    std::fputs("\n", stdout);
    messages.push_back({{"role", "assistant"}, {"content", trim(reply)}});
  }
};

}  // namespace

int cmd_chat(int argc, char** argv) {
  GenOptions o;
  o.gen.sampling.temperature = 0.7f;
  std::vector<std::string> args(argv, argv + argc);
  const PluginFlags pf = take_plugin_flags(args);
  std::vector<char*> av;
  for (auto& a : args) av.push_back(a.data());
  if (!parse_gen_options(static_cast<int>(av.size()), av.data(), o, kUsage)) return 0;
  use_installed_adapter(o.lora, !pf.names.empty() && !pf.no_adapter);
  HELIX_CHECK(o.rest.empty(), "unexpected argument '", o.rest.empty() ? "" : o.rest[0], "' (see --help)");
  Loaded l = load_for_generation(o);
  bind_grammar(o, l);
  const std::string tmpl = chat_template_of(o, l);
  chat::ChatTemplate::parse(tmpl);  // report template errors before the first turn
  Chat c{o, l, tmpl, runtime::Session(l.model, l.tokenizer, o.n_ctx, o.n_batch), Json::array(), o.system, false};
  c.reset();
  std::unique_ptr<PluginChat> pc;
  if (!pf.names.empty()) c.plugins = (pc = std::make_unique<PluginChat>(pf, o, l, tmpl)).get();

  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: Ctrl-C at the prompt interrupts the read
  sigaction(SIGINT, &sa, nullptr);

  LineReader reader(isatty(STDIN_FILENO) ? chat_history_path() : "");
  std::fprintf(stderr, "chatting with %s; /help for commands, Ctrl-D to quit\n", l.path.c_str());
  for (;;) {
    std::fflush(stdout);
    std::string line;
    g_interrupted.store(false);
    if (!reader.read(reader.interactive() ? "> " : "", line)) {
      if (g_interrupted.load()) {
        std::fputs("\n(Ctrl-C stops a reply; type /exit or press Ctrl-D to quit)\n", stdout);
        continue;
      }
      break;
    }
    line = trim(line);
    if (line.empty()) continue;
    reader.remember(line);
    if (line == "/exit" || line == "/quit") break;
    if (!c.command(line)) c.turn(line);
  }
  std::fputs("\n", stdout);
  return 0;
}

}  // namespace helix::cli

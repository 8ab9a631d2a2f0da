// helix run: complete a prompt with a model, streaming the generated text to stdout (and only
// that, so it pipes); load, prefill and decode speeds go to stderr. With --chat (or
// --chat-template FILE) the prompt is one user turn (after -s's system prompt) rendered through the
// chat template. On a terminal, control characters in the text are shown, not sent (see
// TerminalSanitizer); into a pipe or file the text goes unchanged.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/best_of.h"
#include "cli/commands.h"
#include "cli/gen_options.h"
#include "cli/terminal.h"
#include "core/error.h"
#include "core/files.h"
#include "kernels/profile.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix run [-m MODEL] (-p PROMPT | -f FILE) [options]\n"
    "  -m FILE            GGUF model (default: the installed default model)\n"
    "  -p TEXT | -f FILE  the prompt (special-token text such as <start_of_turn> is parsed)\n"
    "  -n N               tokens to generate (default -1: until end of text or a full context)\n"
    "  -c N               context size (default 4096)     -b N  prompt batch size (512)\n"
    "  -t N               threads (default: all cores)\n"
    "  --temp T           temperature (0 = greedy; default 0.8)\n"
    "  --top-k K --top-p P --min-p P --repeat-penalty R --repeat-last-n N\n"
    "  --presence-penalty P --frequency-penalty P --seed S --stop TEXT (repeatable)\n"
    "  --logit-bias ID+B  add B to token ID's logit (ID-B subtracts; ID-inf bans it); repeatable\n"
    "  --no-bos           do not add the beginning-of-text token\n"
    "  --chat             the prompt is a user message (-s TEXT: system prompt), rendered with the\n"
    "                     model's chat template\n"
    "  --chat-template F  same, with the Jinja chat template in file F\n"
    "  --lora FILE[:S]    apply a LoRA adapter (GGUF, llama.cpp layout) at scale S (default 1);\n"
    "                     repeatable: the adapters add\n"
    "  --profile          time per op and per layer (prefill and decode), a table on stderr\n"
    "  --json             reply with a JSON object (constrained decoding)\n"
    "  --json-schema FILE reply with JSON valid under the JSON Schema in FILE\n"
    "  --best-of N --rm RM.gguf [--rm-aspect A]  sample N replies (--chat), score them with the reward\n"
    "                     model, print the best (all samples' scores on stderr)\n";


}  // namespace

int cmd_run(int argc, char** argv) {
  // --profile is this command's own flag: taken out before the shared generation options.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::string(argv[i]) == "--profile")
      prof::set_enabled(true);
    else
      args.push_back(argv[i]);
  }
  BestOf best_of;
  take_best_of_flags(args, best_of);
  argc = static_cast<int>(args.size());
  argv = args.data();
  GenOptions o;
  if (!parse_gen_options(argc, argv, o, kUsage)) return 0;
  std::string prompt = o.prompt;
  if (!o.prompt_file.empty()) prompt = read_file(o.prompt_file, "prompt file");
  HELIX_CHECK(!prompt.empty(), "no prompt: give -p TEXT or -f FILE (see --help)");
  Loaded l = load_for_generation(o);
  bind_grammar(o, l);
  std::vector<int32_t> ids;
  if (o.chat) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!o.system.empty()) messages.push_back({{"role", "system"}, {"content", o.system}});
    messages.push_back({{"role", "user"}, {"content", prompt}});
    ids = encode_chat(chat_template_of(o, l), messages, *l.tokenizer);
  } else {
    HELIX_CHECK(o.system.empty(), "-s (a system prompt) needs --chat or --chat-template (see --help)");
    ids = l.tokenizer->encode(prompt, !o.no_bos, true);
  }
  if (best_of.n > 0) {
    run_best_of(o, l, ids, prompt, best_of);
    return 0;
  }
  runtime::Session s(l.model, l.tokenizer, o.n_ctx, o.n_batch);
  s.set_tokens(ids);
  const bool tty = isatty(STDOUT_FILENO) != 0;
  TerminalSanitizer clean;
  auto show = [](const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  const auto reason = s.generate(o.gen, [&](const std::string& text) { show(tty ? clean.push(text) : text); });
  show(clean.finish());
  const auto& t = s.timing();
  std::fprintf(stderr, "\n\nfinish: %s\nload: %.2f s\nprefill: %lld tokens, %.2f s, %.1f tokens/s\n"
               "decode: %lld tokens, %.2f s, %.1f tokens/s\n",
               runtime::finish_reason_name(reason), l.load_s, static_cast<long long>(t.prefill_tokens), t.prefill_s,
               t.prefill_s > 0 ? static_cast<double>(t.prefill_tokens) / t.prefill_s : 0.0,
               static_cast<long long>(t.decode_tokens), t.decode_s,
               t.decode_s > 0 ? static_cast<double>(t.decode_tokens) / t.decode_s : 0.0);
  if (prof::enabled()) prof::report();
  if (reason == runtime::FinishReason::ContextFull)
    std::fprintf(stderr, "the context of %lld tokens is full; raise it with -c\n", static_cast<long long>(o.n_ctx));
  return 0;
}

}  // namespace helix::cli

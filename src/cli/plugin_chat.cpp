// `helix chat --plugins` (see plugin_chat.h).
#include "cli/plugin_chat.h"

#include <cstdio>

#include "cli/default_model.h"
#include "cli/kb_answer.h"
#include "cli/terminal.h"
#include "core/error.h"
#include "grammar/token_matcher.h"
#include "plugins/manifest.h"
#include "server/chat_messages.h"
#include "server/pipeline.h"
#include "tools/tools.h"

namespace helix::cli {

using Json = nlohmann::ordered_json;

PluginFlags take_plugin_flags(std::vector<std::string>& args) {
  PluginFlags f;
  std::vector<std::string> keep;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto val = [&]() -> const std::string& {
      HELIX_CHECK(i + 1 < args.size(), "option ", a, " needs a value");
      return args[++i];
    };
    if (i > 0 && a == "--plugins") {
      std::string v = val();
      // --plugins a,b  and  --plugins a b c (names up to the next option)
      for (;;) {
        size_t at = 0;
        while (at <= v.size()) {
          const size_t comma = v.find(',', at);
          const std::string n = v.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
          if (!n.empty()) f.names.push_back(n);
          if (comma == std::string::npos) break;
          at = comma + 1;
        }
        if (i + 1 < args.size() && !args[i + 1].empty() && args[i + 1][0] != '-') v = args[++i];
        else break;
      }
    } else if (i > 0 && a == "--no-adapter") {
      f.no_adapter = true;
    } else if (i > 0 && a == "--max-tool-steps") {
      f.max_steps = static_cast<int>(int_flag(a, val(), 1, 32));
    } else if (i > 0 && a == "--tool-choice") {
      f.tool_choice = val();
    } else if (i > 0 && a == "--kb-dir") {
      f.kb_dir = val();
    } else {
      keep.push_back(a);
    }
  }
  args = keep;
  return f;
}

std::string plugin_kb_dir(const std::string& given) { return given.empty() ? default_kb_dir() : given; }

PluginChat::PluginChat(const PluginFlags& f, GenOptions& o, Loaded& l, std::string tmpl)
    : f_(f), o_(o), l_(l), tmpl_(std::move(tmpl)) {
  std::vector<plugins::Manifest> ms;
  const std::string dir = plugins::plugins_dir();
  for (const auto& n : f.names) ms.push_back(plugins::find_manifest(dir, n));
  plugins::Context ctx;
  ctx.kb_dir = plugin_kb_dir(f.kb_dir);
  box_ = std::make_unique<plugins::Toolbox>(std::move(ms), ctx);
  const Json& tools = box_->openai_tools();  // connect now: a broken plugin is reported before the first turn
  std::string names;
  for (const auto& t : tools) names += (names.empty() ? "" : ", ") + t["function"]["name"].get<std::string>();
  std::fprintf(stderr, "plugins: %zu tools (%s)\n", tools.size(), names.c_str());
  vocab_ = std::make_shared<grammar::Vocabulary>(*l.tokenizer);
  loop_.max_steps = f.max_steps;
  loop_.tool_choice = f.tool_choice == "auto" || f.tool_choice == "required" || f.tool_choice == "none"
                          ? Json(f.tool_choice)
                          : Json{{"type", "function"}, {"function", {{"name", f.tool_choice}}}};
  loop_.control_tokens = plugins::control_token_texts(*l.tokenizer);
  loop_.on_call = [](const plugins::CallRecord& r) {
    TerminalSanitizer clean;
    std::string shown = clean.push(cat("[", r.plugin, ".", r.tool, " ", r.arguments, " -> ", r.ok ? "" : "error: ",
                                       r.result.size() > 400 ? r.result.substr(0, 400) + "..." : r.result, "]\n"));
    shown += clean.finish();
    std::fwrite(shown.data(), 1, shown.size(), stdout);
    std::fflush(stdout);
  };
}

PluginChat::~PluginChat() = default;

Json PluginChat::generate(const Json& messages, const Json& tools, const Json& choice) {
  const Json body = {{"messages", messages}, {"tools", tools}, {"tool_choice", choice}};
  tools::Plan plan;
  std::vector<int32_t> ids;
  try {
    plan = tools::plan_tools(tmpl_, body, server::chat_messages(body));
    ids = server::encode_chat_prompt(*l_.tokenizer, tmpl_, plan.messages, plan.template_tools, plan.prefill);
  } catch (const server::ApiError& e) {
    throw Error(e.message);
  }
  HELIX_CHECK(static_cast<int64_t>(ids.size()) + room_ <= o_.n_ctx, "the conversation with its tool results needs ",
              ids.size(), " tokens and the context holds ", o_.n_ctx, " (", room_, " kept for the reply): /reset, or restart with a larger -c");
  session_->set_tokens(ids);
  // The same tool plan as the server's pipeline: the call grammar with its trigger, control
  // tokens as text where the family's markers are such tokens, and the reply read by the same
  // parser, its content shown as the stream makes it certain (calls are not shown as text).
  runtime::GenerateOptions g = o_.gen;
  const tools::CallSampling cs = tools::call_sampling(plan, g.sampling.constraint != nullptr);
  if (cs.grammar) {
    g.sampling.constraint = std::make_shared<grammar::Constraint>(grammar::Constraint{cs.grammar, vocab_});
    g.sampling.grammar_trigger = cs.trigger;
    g.sampling.grammar_trigger_at_start = cs.trigger_at_start;
  }
  g.render_special = cs.render_special;
  tools::CallStream stream(plan);
  std::string reply;
  TerminalSanitizer clean;
  auto show = [&](const std::vector<Json>& deltas) {
    for (const Json& d : deltas) {
      if (!d.contains("content")) continue;
      const std::string shown = clean.push(d["content"].get<std::string>());
      std::fwrite(shown.data(), 1, shown.size(), stdout);
    }
    std::fflush(stdout);
  };
  const auto reason = session_->generate(g, [&](const std::string& t) {
    reply += t;
    show(plan.parse ? stream.update(reply) : std::vector<Json>{Json{{"content", t}}});
  }, cancel_);
  std::string finish = "stop";
  Json msg = tools::assistant_message(plan, reply, finish);
  if (plan.parse) show(stream.finish(msg));
  std::fputs(clean.finish().c_str(), stdout);
  if (!msg.contains("tool_calls")) {
    if (reason == runtime::FinishReason::Cancelled) std::fputs(" [stopped]", stdout);
    std::fputs("\n", stdout);
  }
  std::fflush(stdout);
  return msg;
}

void PluginChat::turn(Json& messages, runtime::Session& session, int64_t reply_room, const std::atomic<bool>* cancel) {
  session_ = &session;
  room_ = reply_room;
  cancel_ = cancel;
  try {
    plugins::LoopResult r = plugins::run_tool_loop(
        messages, *box_, [&](const Json& m, const Json& t, const Json& c) { return generate(m, t, c); }, loop_);
    // The conversation keeps the turns the loop added, without its system note when it added one.
    Json out = r.messages;
    if (!messages.empty() && messages[0]["role"] == "system") out[0] = messages[0];
    else if (!out.empty() && out[0]["role"] == "system") out.erase(0);
    messages = out;
  } catch (const std::exception& e) {
    messages.erase(messages.size() - 1);
    std::printf("(%s)\n", e.what());
  }
}

}  // namespace helix::cli

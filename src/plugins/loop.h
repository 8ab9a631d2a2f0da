// The tool loop Helix runs itself for `helix chat --plugins` and the server's "plugins" field:
// the model answers; if it calls tools, Helix runs them (Toolbox), appends each result as a
// `tool` message and asks the model again, for at most max_steps model turns (the last one with
// tool_choice "none", so it must answer in text). The generation itself is a callback, so the
// command line (runtime::Session) and the server (its engine) share this loop.
//
// Tool output is data, never instructions: a system note says so; the result text is cut to
// max_result_chars; text in it that spells one of the model's control tokens (e.g.
// "<end_of_turn>", "<|im_start|>") is broken up so it cannot end the tool turn or forge a new
// one; and only the model's own reply is ever parsed for calls.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "plugins/toolbox.h"

namespace helix::tok {
class Tokenizer;
}

namespace helix::plugins {

// Generates one assistant message (OpenAI shape: content, optional tool_calls) for the
// conversation, offering `tools` under `tool_choice`.
using ModelFn = std::function<ojson(const ojson& messages, const ojson& tools, const ojson& tool_choice)>;

struct LoopOptions {
  int max_steps = 4;                 // model turns, the final answer included
  ojson tool_choice = "auto";        // for the first turn; later turns are "auto", the last "none"
  size_t max_result_chars = 8000;
  std::vector<std::string> control_tokens;           // see control_token_texts
  std::function<void(const CallRecord&)> on_call;    // after each call (progress, logs)
  // The caller generates the answer itself (the server, so that it streams): the loop stops
  // before a step that could only answer, and a reply without calls is not kept in `messages`.
  bool leave_final = false;
};

struct LoopResult {
  ojson message;                // the final assistant message (leave_final: the last reply)
  ojson messages;               // the whole conversation, with the new turns
  std::vector<CallRecord> calls;
  int steps = 0;                // model turns taken
};

LoopResult run_tool_loop(ojson messages, Toolbox& tools, const ModelFn& model, const LoopOptions& opt);

// The system note about tool output, added to (or as) the system message.
extern const char* const kToolDataNote;
// The text of a tool message for a call's record (errors are said to be errors).
std::string tool_message_text(const CallRecord& r, const LoopOptions& opt);
// The texts of the tokenizer's control tokens that look like markup ("<...>", "[...]", "<|...|>").
std::vector<std::string> control_token_texts(const tok::Tokenizer& tok);
// `text` with every occurrence of one of `tokens` broken by a zero-width space after its first
// character, so it tokenizes as plain text.
std::string defuse_control_tokens(const std::string& text, const std::vector<std::string>& tokens);
// The `calls` extension field of a response: [{"id", "plugin", "tool", "arguments", "ok", "result", "seconds"}].
ojson calls_json(const std::vector<CallRecord>& calls);

}  // namespace helix::plugins

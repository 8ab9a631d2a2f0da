// Tool calling (OpenAI's `tools` / `tool_choice` on chat completions), independent of HTTP:
//   - which call syntax a chat template uses (its family),
//   - the request's tools and tool_choice, checked, and the conversation prepared for the template
//     (arguments strings parsed into objects, Mistral's 9-character ids; for templates without tool
//     support a system message that Helix writes: the server's render_chat_messages then turns
//     calls and results into text turns for such templates),
//   - for a forced call (tool_choice "required" or a named function) the text the reply starts with
//     and the grammar (JSON Schema with each function's `parameters`) the call is generated under;
//     forced parallel calls (generic and Mistral families) are at most one per tool offered,
//   - the parser that turns generated text into content plus tool calls.
//
//   Plan p = plan_tools(template_source, body, messages);  // throws RequestError (a 400)
//   text = render_chat(tmpl, p.messages, p.template_tools, ...) + p.prefill;
//   gen.grammar = p.grammar;                             // forced: from the first token;
//   sampling.grammar_trigger = p.trigger;                // "auto": lazily, after the call's tag
//   sampling.grammar_trigger_at_start = p.trigger_at_start;
//   Parsed r = parse_output(p, p.prefill + generated);   // r.calls empty: plain content
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "grammar/grammar.h"

namespace helix::tools {

using ojson = nlohmann::ordered_json;

// A request field that is wrong; `param` names it (OpenAI's error param).
class RequestError : public Error {
 public:
  RequestError(const std::string& param, const std::string& what) : Error(what), param_(param) {}
  const std::string& param() const { return param_; }

 private:
  std::string param_;
};

enum class Family {
  kGeneric,  // no tool support in the template: {"tool_calls": [{"name", "arguments"}]} as the whole reply
  kHermes,   // Hermes 2 Pro, Qwen 2.5/3: <tool_call>{"name", "arguments"}</tool_call>, one block per call
  kLlama3,   // Llama 3.1/3.2/3.3: the reply is {"name", "parameters"}
  kMistral,  // Mistral Nemo and others: [TOOL_CALLS][{"name", "arguments"}, ...]
  kFunctionaryV31,  // functionary v3.1 (Llama 3.1 based): <function=NAME>{...}</function>
  kFunctionaryV32,  // functionary v3.2: >>>NAME\n{...} (>>>all\n for text); the prompt ends with ">>>"
  kDeepSeek,  // DeepSeek R1 / V3: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{...}\n```
              // <｜tool▁call▁end｜>...; V3.1: ...<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{...}<｜tool▁call▁end｜>
  kCommandR,  // Command R/R+: Action:\n```json\n[{"tool_name", "parameters"}]```; R7B: <|START_ACTION|>[...]<|END_ACTION|>
  kGptOss,    // gpt-oss (harmony): <|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{...}<|call|>
};
const char* family_name(Family f);
// Decided from the template's source text (the markers each family's template writes).
Family detect_family(std::string_view template_source);

struct ToolCall {
  std::string name;
  std::string arguments;  // JSON text of an object
};
struct Parsed {
  std::string content;  // the text outside the calls (trimmed)
  std::vector<ToolCall> calls;
  std::string reasoning;  // <think>...</think>, harmony's analysis channel, Command R7B's thinking
};
// Reads the calls of family `f` out of generated text; text that holds no well-formed call is
// all content.
Parsed parse_tool_calls(Family f, std::string_view text);

enum class Choice { kNone, kAuto, kRequired, kNamed };

struct Plan {
  Family family = Family::kGeneric;
  ojson tools = ojson::array();  // the request's tools, checked (function tools only)
  Choice choice = Choice::kAuto;
  std::string named;             // kNamed: the function that must be called
  bool parallel = true;
  ojson messages;                // the conversation as the template should see it
  ojson template_tools;          // passed to the template as `tools` (null: none; generic family: never)
  std::string prefill;           // text the reply starts with (forced calls)
  std::shared_ptr<const grammar::Grammar> grammar;  // the calls' grammar (null: free text)
  std::string trigger;           // non-empty: the grammar applies only after this text (lazy, "auto")
  bool trigger_at_start = false; // the trigger counts only at the reply's start and is part of the call
                                 // (Llama 3.x and generic replies: the call is the reply, "{" starts it)
  bool forced_generic = false;   // a forced call in the generic JSON form (families that write the
                                 // name outside the JSON, when the model may pick among several tools)
  bool render_special = false;   // the family's markers are control tokens: decode them as text to parse
  bool think_open = false;       // the prompt opens <think> (DeepSeek R1): the reply starts as reasoning
  bool parse = false;            // read tool calls out of the reply
};
// Reads `tools`, `tool_choice` and `parallel_tool_calls` from a chat request body and prepares
// `messages` (the body's, already checked: objects with a known role, content a string or null,
// tool_calls an array of {"function": {"name", ...}}).
Plan plan_tools(std::string_view template_source, const ojson& body, const ojson& messages);

// The reply's calls, with the names checked against the offered tools (calls to tools that
// were not offered are left in the content, as text).
Parsed parse_output(const Plan& plan, std::string_view text);

// The reply's assistant message: {"role", "content"} and, when the plan parses calls, the calls
// read out of `text` (the generated text, after plan.prefill) as `tool_calls` (content null when
// empty) and `reasoning_content` (as llama-server names it); `finish` "stop" becomes "tool_calls"
// when there are calls. Used by the server and by `helix chat --plugins` alike.
ojson assistant_message(const Plan& plan, const std::string& text, std::string& finish);

// How a reply with tool offers is generated: the grammar of the calls and when it starts, and
// whether control tokens are decoded as text. The caller copies these into its sampler settings.
struct CallSampling {
  std::shared_ptr<const grammar::Grammar> grammar;  // null: no call grammar
  std::string trigger;
  bool trigger_at_start = false;
  bool render_special = false;
};
// `other_grammar`: the reply is already held to a grammar (response_format): a lazy call grammar
// then gives way to it (a forced call's grammar does not).
CallSampling call_sampling(const Plan& plan, bool other_grammar = false);

// A reply's message as OpenAI streams it, piece by piece while the model writes it: content and
// reasoning as they become certain; each call first with its id, type and name (arguments ""),
// then successive pieces of its arguments, by index. The pieces add up to assistant_message()'s
// message (the arguments are the model's JSON text minified, in both).
// Incremental: where the last read left the text's end in content, reasoning or an open arguments
// object, new text that cannot start a marker there (no '<', '>', '[', ... as the family's markers
// begin) or close the object is handled alone, so a reply streams in time linear in its length;
// other new text has the reply read again from its start.
//
//   CallStream cs(plan);
//   for each new piece of text: text += piece; for (ojson d : cs.update(text)) send(d);
//   for (ojson d : cs.finish(assistant_message(plan, text, finish))) send(d);
class CallStream {
 public:
  explicit CallStream(const Plan& plan) : plan_(&plan) {}
  // Deltas ({"content"}, {"reasoning_content"}, {"tool_calls": [...]}) for the reply so far.
  std::vector<ojson> update(const std::string& text);
  // The rest of the final message (what the stream has not yet said of it).
  std::vector<ojson> finish(const ojson& message);

 private:
  struct Sent {
    std::string name, args;
  };
  void add_text(std::vector<ojson>& out, const char* key, std::string& sent, std::string& ws, const std::string& now);
  void add_call(std::vector<ojson>& out, size_t i, const std::string& name, const std::string& args);
  // The new text `d` alone, where the last read allows; false: read the whole reply again.
  bool extend(std::vector<ojson>& out, std::string_view d);
  void extend_text(std::vector<ojson>& out, const char* key, std::string& sent, std::string& ws, std::string_view d);

  const Plan* plan_;
  std::string content_, reasoning_;  // sent so far
  std::string content_ws_, reasoning_ws_;  // their trailing whitespace, not sent yet
  std::vector<Sent> calls_;
  bool stuck_ = false;  // the text stopped being readable as it went: the rest comes at the end
  size_t seen_ = 0;     // the reply's length at the last update
  int tail_ = 0;        // where the last read left the text's end (detail::Partial::Tail)
  int depth_ = 0;       // tail in arguments: the open object's nesting and string state
  bool in_str_ = false, esc_ = false;
};

// OpenAI's `tool_calls` array: [{"id": "call_...", "type": "function", "function": {"name",
// "arguments"}}]; ids are random.
ojson tool_calls_json(const std::vector<ToolCall>& calls);
std::string new_call_id();

// Whether `arguments` (JSON text) is an instance of the function's `parameters` schema as the
// grammar engine reads it (properties in schema order).
bool arguments_match(const ojson& parameters, std::string_view arguments);

}  // namespace helix::tools

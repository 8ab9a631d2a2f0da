// Chat templates: a model's own `tokenizer.chat_template` (Jinja) rendered by Helix's own
// interpreter, byte for byte as Hugging Face transformers renders it (Jinja2 3.1,
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, loopcontrols), tojson =
// json.dumps(ensure_ascii=False), globals raise_exception and strftime_now).
//
//   auto t = helix::chat::ChatTemplate::parse(source);   // syntax errors throw here
//   std::string prompt = t.render({{"messages", msgs}, {"add_generation_prompt", true}, ...});
//
// Data is JSON; object key order is kept (use nlohmann::ordered_json; a plain nlohmann::json
// converts but arrives with sorted keys, which changes what tojson prints). A template error
// throws helix::Error "template line N: reason"; no input crashes, and limits bound the output
// size, work and macro recursion.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/interpreter.h"

namespace helix::chat {

struct Program;

class ChatTemplate {
 public:
  // Parses (and checks) a template. Throws helix::Error naming the line for syntax errors,
  // unknown filters or tests, and unsupported tags (include/import/extends).
  static ChatTemplate parse(std::string source);

  // Renders with the keys of `context` (an object, or null) as variables.
  std::string render(const nlohmann::ordered_json& context) const;
  std::string render(const nlohmann::ordered_json& context, const Limits& limits) const;

  const std::string& source() const { return source_; }

 private:
  std::shared_ptr<const Program> prog_;
  std::string source_;
};

// Renders `tmpl` for a conversation the way transformers' apply_chat_template does:
// variables messages, tools (None when null), add_generation_prompt, bos_token, eos_token,
// plus the keys of `extra` (e.g. enable_thinking); a key of `extra` that repeats one of those
// is an error.
std::string render_chat(const std::string& tmpl, const nlohmann::ordered_json& messages,
                        const nlohmann::ordered_json& tools, bool add_generation_prompt,
                        const std::string& bos, const std::string& eos,
                        const nlohmann::ordered_json& extra = nlohmann::ordered_json::object());

// The template Helix uses for a model whose file has no tokenizer.chat_template: ChatML
// (<|im_start|>role\ncontent<|im_end|>\n), with tools listed in the system turn and tool
// calls as <tool_call>{"name": ..., "arguments": ...}</tool_call>, as Qwen2.5 and Hermes do.
// Content may be a string or a list of parts (text parts are concatenated).
const char* fallback_chat_template();

}  // namespace helix::chat

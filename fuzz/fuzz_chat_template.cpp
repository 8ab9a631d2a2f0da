// libFuzzer target: parses arbitrary bytes as a chat template and renders it with a fixed small
// conversation (messages with tool calls and content parts, tools, a namespace-friendly extra
// variable). A helix::Error is the expected answer to bad input; any crash, sanitizer report,
// hang or huge allocation is a finding. Limits are the defaults except a smaller work and output
// budget, so that a finding is a real bug rather than a slow-but-bounded template.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/template.h"
#include "core/error.h"

namespace {

const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Weather in Zürich?"}, {"type": "image"}]},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call12345", "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}}]},
      {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp\": 21.5}"},
      {"role": "assistant", "content": "<think>ok</think>21.5 °C"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather.",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"},
      "days": {"type": "integer"}}, "required": ["city"]}}}],
    "add_generation_prompt": true,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "enable_thinking": false
  })");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  helix::chat::Limits limits;
  limits.max_steps = 200000;
  limits.max_output = size_t{1} << 20;
  try {
    const auto t =
        helix::chat::ChatTemplate::parse(std::string(reinterpret_cast<const char*>(data), size));
    const std::string out = t.render(context(), limits);
    if (out.size() > limits.max_output) __builtin_trap();
  } catch (const helix::Error&) {
  }
  return 0;
}

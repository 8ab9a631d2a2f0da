// ChatTemplate, render_chat and the fallback ChatML template (see template.h).
#include "chat/template.h"

#include "chat/parser.h"
#include "core/error.h"

namespace helix::chat {

ChatTemplate ChatTemplate::parse(std::string source) {
  ChatTemplate t;
  t.prog_ = parse_program(source);
  t.source_ = std::move(source);
  return t;
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  return render(context, Limits{});
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context,
                                 const Limits& limits) const {
  if (!prog_) throw Error("chat template was not parsed");
  if (!context.is_null() && !context.is_object())
    throw Error("chat template context must be a JSON object");
  auto globals = std::make_shared<Scope>();
  if (context.is_object()) {
    for (const auto& [k, v] : context.items()) {
      globals->set(k, from_json(v));
    }
  }
  Interpreter in(limits);
  return in.render(*prog_, globals);
}

std::string render_chat(const std::string& tmpl, const nlohmann::ordered_json& messages,
                        const nlohmann::ordered_json& tools, bool add_generation_prompt,
                        const std::string& bos, const std::string& eos,
                        const nlohmann::ordered_json& extra) {
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  ctx["messages"] = messages;
  ctx["tools"] = tools;
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = bos;
  ctx["eos_token"] = eos;
  if (!extra.is_null()) {
    if (!extra.is_object()) throw Error("extra chat template variables must be a JSON object");
    for (const auto& [k, v] : extra.items()) {
      if (ctx.contains(k)) throw Error(cat("chat template variable '", k, "' given twice"));
      ctx[k] = v;
    }
  }
  return ChatTemplate::parse(tmpl).render(ctx);
}

const char* fallback_chat_template() {
  return R"TMPL({#- Helix's fallback chat template (ChatML), for models without tokenizer.chat_template. -#}
{%- macro content_text(content) -%}
    {%- if content is string -%}
        {{- content -}}
    {%- elif content is iterable and content is not mapping -%}
        {%- for part in content -%}
            {%- if part is mapping and part.type == 'text' -%}
                {{- part.text -}}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro -%}
{%- set loop_messages = messages -%}
{%- if tools -%}
    {{- '<|im_start|>system\n' -}}
    {%- if messages and messages[0].role == 'system' -%}
        {{- content_text(messages[0].content) ~ '\n\n' -}}
        {%- set loop_messages = messages[1:] -%}
    {%- endif -%}
    {{- '# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' -}}
    {{- 'You are provided with function signatures within <tools></tools> XML tags:\n<tools>' -}}
    {%- for tool in tools -%}
        {{- '\n' ~ (tool | tojson) -}}
    {%- endfor -%}
    {{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments ' -}}
    {{- 'within <tool_call></tool_call> XML tags:\n<tool_call>\n' -}}
    {{- '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' -}}
{%- endif -%}
{%- for message in loop_messages -%}
    {{- '<|im_start|>' ~ message.role ~ '\n' ~ content_text(message.content) -}}
    {%- if message.tool_calls -%}
        {%- for call in message.tool_calls -%}
            {%- set fn = call.function if call.function is defined else call -%}
            {%- if message.content or not loop.first -%}
                {{- '\n' -}}
            {%- endif -%}
            {{- '<tool_call>\n{"name": "' ~ fn.name ~ '", "arguments": ' -}}
            {{- fn.arguments if fn.arguments is string else (fn.arguments | tojson) -}}
            {{- '}\n</tool_call>' -}}
        {%- endfor -%}
    {%- endif -%}
    {{- '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|im_start|>assistant\n' -}}
{%- endif -%}
)TMPL";
}

}  // namespace helix::chat

// The generate and embed tools of Helix's MCP server (see mcp_tools.h).
#include "server/mcp_tools.h"

#include <atomic>
#include <random>

#include "model/bert.h"
#include "plugins/chatfile_tool.h"

namespace helix::server {

namespace {

const ojson* arg(const ojson& a, const char* key) {
  auto it = a.find(key);
  return it == a.end() || it->is_null() ? nullptr : &*it;
}

}  // namespace

void add_generate_tool(mcp::Server& s, Pipeline& pipeline) {
  const ojson schema = ojson::parse(R"js({
    "type": "object",
    "properties": {
      "prompt": {"type": "string", "description": "What to ask the model (one user turn)"},
      "system": {"type": "string", "description": "An optional system prompt"},
      "max_tokens": {"type": "integer", "minimum": 1, "maximum": 4096, "description": "Most tokens to generate (default 256)"},
      "temperature": {"type": "number", "minimum": 0, "maximum": 2, "description": "Sampling temperature (default 0.7; 0 is greedy)"}
    },
    "required": ["prompt"]})js");
  s.add_tool({"generate", "Generate text with Helix's local language model: the reply to a prompt.", schema,
              [&pipeline](const ojson& a) {
                const ojson* prompt = arg(a, "prompt");
                if (!prompt || !prompt->is_string()) throw mcp::ToolError("generate needs a string 'prompt'");
                ojson msgs = ojson::array();
                if (const ojson* sys = arg(a, "system")) {
                  if (!sys->is_string()) throw mcp::ToolError("'system' must be a string");
                  msgs.push_back({{"role", "system"}, {"content", *sys}});
                }
                msgs.push_back({{"role", "user"}, {"content", *prompt}});
                auto body = std::make_shared<ojson>(ojson{{"messages", msgs}, {"max_tokens", 256}, {"temperature", 0.7}});
                for (const char* k : {"max_tokens", "temperature"})
                  if (const ojson* v = arg(a, k)) (*body)[k] = *v;
                static std::atomic<uint64_t> n{0};
                thread_local std::mt19937_64 rng{std::random_device{}()};
                try {
                  auto g = pipeline.prepare(body, true, rng(), cat("mcp-", ++n));
                  auto ch = pipeline.submit(*g);
                  if (!ch) throw mcp::ToolError("the model is busy (its queue is full); try again shortly");
                  const ojson reply = pipeline.complete(*g, *ch);
                  const ojson& c = reply["choices"][0];
                  const ojson& content = c["message"]["content"];
                  return mcp::ToolResult{content.is_string() ? content.get<std::string>() : "",
                                         {{"text", content}, {"finish_reason", c["finish_reason"]}, {"usage", reply["usage"]}},
                                         false};
                } catch (const ApiError& e) {
                  throw mcp::ToolError(cat("generate: ", e.message));
                }
              }});
}

void add_embed_tool(mcp::Server& s, Engine& engine, std::shared_ptr<model::BertEncoder> encoder) {
  const ojson schema = ojson::parse(R"js({
    "type": "object",
    "properties": {
      "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 256}],
                "description": "A text or a list of texts"}
    },
    "required": ["input"]})js");
  s.add_tool({"embed", "Sentence embeddings of texts (unit vectors) from Helix's local embedding model.", schema,
              [&engine, encoder](const ojson& a) {
                const ojson* in = arg(a, "input");
                std::vector<std::string> texts;
                if (in && in->is_string()) texts.push_back(in->get<std::string>());
                else if (in && in->is_array() && !in->empty() && in->size() <= 256)
                  for (const auto& t : *in) {
                    if (!t.is_string()) throw mcp::ToolError("every item of 'input' must be a string");
                    texts.push_back(t.get<std::string>());
                  }
                else throw mcp::ToolError("embed needs 'input': a string or a list of 1 to 256 strings");
                std::vector<std::vector<float>> vectors;
                engine.run_between_steps([&] { vectors = encoder->embed(texts); });
                ojson out = ojson::array();
                for (const auto& v : vectors) out.push_back(v);
                ojson structured = {{"embeddings", out}, {"dimensions", encoder->dim()}};
                return mcp::ToolResult{structured.dump(), structured, false};  // text: the same JSON, as MCP asks
              }});
}

void add_chatfile_tools(mcp::Server& s, std::shared_ptr<const plugins::DocTools> docs) {
  for (const auto& t : plugins::chatfile_tools())
    s.add_tool({t.name, t.description, t.parameters, [docs, name = t.name](const ojson& a) {
                  try {
                    plugins::ToolResult r = plugins::call_chatfile_tool(*docs, name, a);
                    return mcp::ToolResult{r.text, ojson::parse(r.text), !r.ok};
                  } catch (const mcp::ToolError&) {
                    throw;
                  } catch (const std::exception& e) {
                    throw mcp::ToolError(cat(name, ": ", e.what()));
                  }
                }});
}

}  // namespace helix::server

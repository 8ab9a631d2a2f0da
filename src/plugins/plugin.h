// Plugins that Helix runs itself (issue 16): a plugin is a set of tools the model may call, served
// by an executor. The executors: an OpenAPI service over HTTP (openapi.h), an MCP server over
// stdio or streamable HTTP (mcp.h), and the built-ins (calculator, date and time, knowledge-base
// search: builtins.h). A manifest (manifest.h) says which executor and how to reach it.
//
//   auto p = plugins::open_plugin(manifest, ctx);     // connects lazily; throws helix::Error
//   for (auto& t : p->tools()) ...;                   // name, description, JSON Schema
//   plugins::ToolResult r = p->call("get_forecast", {{"city", "Paris"}});
//
// Executors throw helix::Error for anything that goes wrong (unreachable, timeout, bad reply);
// the Toolbox (toolbox.h) turns those into error text for the model so the conversation goes on.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace helix::model {
class BertEncoder;
}
namespace helix::knowledge {
class KnowledgeBases;
}

namespace helix::plugins {

using ojson = nlohmann::ordered_json;

struct ToolSpec {
  std::string name;
  std::string description;
  ojson parameters = ojson::object();  // JSON Schema of the arguments object
  bool write = false;                  // changes something (OpenAPI non-GET, MCP destructiveHint)
};

struct ToolResult {
  bool ok = true;    // false: the tool reported an error (MCP isError, HTTP 4xx/5xx)
  std::string text;  // what the tool returned, as text
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual std::vector<ToolSpec> tools() = 0;
  virtual ToolResult call(const std::string& tool, const ojson& arguments) = 0;
};

struct Manifest;

// What the built-ins need from the program: where knowledge bases live, the chatfile built-in's
// model, and the open knowledge bases.
struct DocTools;  // chatfile_tool.h
struct Context {
  std::string kb_dir;
  std::shared_ptr<const DocTools> docs;  // the chatfile built-in's model and folders (null: it cannot run)
  // Open knowledge bases shared with the caller (the server's). The kb plugin searches them by
  // the hybrid when they have an encoder (embedding in docs->between_steps when set); null: the kb
  // plugin opens kb_dir's bases itself, without an encoder (BM25 alone; helix chat --plugins).
  std::shared_ptr<knowledge::KnowledgeBases> bases;
};

std::unique_ptr<Executor> open_plugin(const Manifest& m, const Context& ctx);

}  // namespace helix::plugins

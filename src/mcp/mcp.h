// Helix as a Model Context Protocol server: the JSON-RPC 2.0 side of MCP, independent of the
// transport (stdio here in serve_stdio; streamable HTTP at the server's /mcp route, api.cpp).
//
//   mcp::Server s("helix", HELIX_VERSION);
//   s.add_tool({"embed", "Embed texts", schema, [](const ojson& args) { return mcp::ToolResult{...}; }});
//   std::string reply = s.handle_text(line);   // "" when the message needs no reply
//
// Methods: initialize (the protocol version is negotiated: the client's if Helix speaks it, else
// Helix's newest), notifications/initialized, ping, tools/list, tools/call. Everything else is
// JSON-RPC's -32601 (so a client probing the 2026 `server/discover` falls back to initialize).
// A tool that fails returns a result with isError and a message (the model sees it); a call of
// an unknown tool or with arguments that are not an object is a -32602 error.
#pragma once

#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace helix::mcp {

using ojson = nlohmann::ordered_json;

// Protocol revisions reachable with the initialize handshake, oldest first.
const std::vector<std::string>& protocol_versions();
// The version to answer an initialize that offers `requested`.
std::string negotiate_version(const std::string& requested);

struct ToolResult {
  std::string text;                  // shown as one text content item
  ojson structured = nullptr;        // optional structuredContent (an object)
  bool is_error = false;
};

// Thrown by a tool for a failure the caller should read (bad arguments, a missing knowledge
// base): becomes a result with isError and this message.
class ToolError : public Error {
 public:
  explicit ToolError(const std::string& what) : Error(what) {}
};

struct Tool {
  std::string name;
  std::string description;
  ojson input_schema;  // JSON Schema of the arguments (an object schema)
  std::function<ToolResult(const ojson& arguments)> call;
};

class Server {
 public:
  Server(std::string name, std::string version, std::string instructions = "");
  void add_tool(Tool t);
  const std::vector<Tool>& tools() const { return tools_; }

  // One parsed message (a request, a notification, or a batch array of them); the reply, or null
  // when nothing is to be sent (notifications only). Thread-safe: tools are called concurrently.
  ojson handle(const ojson& msg);
  // The same from text; a message that is not JSON gets a -32700 parse error. "" when no reply.
  std::string handle_text(std::string_view text);

 private:
  ojson handle_one(const ojson& msg);
  ojson call_tool(const ojson& params);

  std::string name_, version_, instructions_;
  std::vector<Tool> tools_;
};

// A JSON-RPC error object for `id`.
ojson error_reply(const ojson& id, int code, const std::string& message);

// The stdio transport: newline-delimited JSON-RPC messages from `in` until it ends, replies to
// `out` one per line (flushed). Nothing else is written to `out` (logs go to stderr). Up to
// max_in_flight messages are handled at once, each on its own thread, and each reply is written
// when it is ready (JSON-RPC matches replies by id): a slow tools/call does not hold up a ping, and
// concurrent generate calls share the engine's batch. At the end of the input it waits for them.
void serve_stdio(Server& s, std::istream& in, std::ostream& out, int max_in_flight = 1);

}  // namespace helix::mcp

// MCP client (Model Context Protocol, JSON-RPC 2.0) over stdio (a child process speaking
// newline-delimited JSON on stdin/stdout) and streamable HTTP (POST per message; the answer is
// JSON or a text/event-stream; Mcp-Session-Id and MCP-Protocol-Version headers).
//
// The client initializes with the newest protocol version it speaks (mcp::protocol_versions, the
// list Helix's MCP server answers with too) and accepts the server's
// answer if it is one it speaks too (initialize may take up to max(timeout, 60 s): starting a
// server can be slow) (else the connection fails naming both), then sends
// notifications/initialized. tools/list follows nextCursor pages; tools/call returns the text of
// the result's content (isError -> ToolResult.ok = false). Every request has the manifest's
// timeout; a timed-out request is cancelled (notifications/cancelled). A server that exits, hangs
// or writes something that is not JSON-RPC fails the request with a message saying so, and the
// next request starts a new connection (a new process for stdio).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "plugins/manifest.h"
#include "plugins/plugin.h"

namespace helix::plugins {

// One JSON-RPC connection to an MCP server.
class McpTransport {
 public:
  virtual ~McpTransport() = default;
  // Sends a request and returns the response whose id matches (result or error object).
  virtual ojson request(const ojson& msg, double timeout_s) = 0;
  virtual void notify(const ojson& msg) = 0;
  // Headers for HTTP after initialize (no-op for stdio).
  virtual void set_protocol_version(const std::string&) {}
};

std::unique_ptr<McpTransport> mcp_stdio(const std::vector<std::string>& argv,
                                        const std::vector<std::pair<std::string, std::string>>& env,
                                        size_t max_bytes);
// `headers` go with every request (the auth header).
std::unique_ptr<McpTransport> mcp_http(const std::string& url, std::vector<std::pair<std::string, std::string>> headers,
                                       size_t max_bytes);

std::unique_ptr<Executor> make_mcp_client(const Manifest& m);

}  // namespace helix::plugins

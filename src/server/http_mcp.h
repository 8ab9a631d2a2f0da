// MCP's streamable HTTP transport at /mcp (protocol revisions 2025-03-26 and later; see mcp/mcp.h
// for the methods): POST a JSON-RPC message, get the reply as application/json (202 with no body
// for notifications). initialize returns an Mcp-Session-Id header that later requests carry (400
// without it, 404 for one this server does not know: the client then initializes again); DELETE
// ends a session; GET is 405 (this server sends no messages of its own, so it opens no stream).
// Requests from a browser Origin that --cors does not allow are refused (403), as the
// specification asks against DNS rebinding.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "mcp/mcp.h"
#include "server/http_server.h"

namespace helix::server {

void add_mcp_routes(http::HttpServer& svr, std::shared_ptr<mcp::Server> mcp,
                    std::function<bool(const std::string& origin)> origin_allowed);

}  // namespace helix::server

// Helix's own tools on its MCP server (mcp/mcp.h): `generate` (the served model, through the
// generation pipeline: chat template, adapter, limits) and `embed` (the embedding model). The
// knowledge-base search tool is added by the CLI (cli/mcp_kb_tool.h), which links the knowledge
// module. Used by `helix mcp` (stdio) and by the server's /mcp route (streamable HTTP).
#pragma once

#include <memory>

#include "mcp/mcp.h"
#include "server/engine.h"
#include "server/pipeline.h"

namespace helix::model {
class BertEncoder;
}

namespace helix::plugins {
struct DocTools;
}

namespace helix::server {

// `generate`: {"prompt", "system"?, "max_tokens"? (default 256), "temperature"? (default 0.7)}.
void add_generate_tool(mcp::Server& s, Pipeline& pipeline);
// `embed`: {"input": a string or a list of strings} -> {"embeddings": [[...], ...]}.
void add_embed_tool(mcp::Server& s, Engine& engine, std::shared_ptr<model::BertEncoder> encoder);
// `document_summary` and `document_ask`: the chatfile built-in's tools (plugins/chatfile_tool.h),
// their results as structured content.
void add_chatfile_tools(mcp::Server& s, std::shared_ptr<const plugins::DocTools> docs);

}  // namespace helix::server

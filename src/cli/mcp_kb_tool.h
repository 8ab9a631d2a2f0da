// The knowledge-base search tool of Helix's MCP server (`helix mcp` and serve's /mcp): hybrid
// retrieval (BM25 + vectors) over the bases `helix kb` made.
#pragma once

#include <memory>
#include <string>

#include "mcp/mcp.h"

namespace helix::knowledge {
class KnowledgeBases;
}

namespace helix::cli {

// `kb_search`: {"query", "knowledge_base"? (needed when there are several), "k"? (default 5, at
// most 20), "mode"? ("hybrid", "bm25", "vector")}. Searches through knowledge::search (the bases'
// encoder may be null: BM25 only); the bases may be shared with the server's /v1/kb.
void add_kb_search_tool(mcp::Server& s, std::shared_ptr<knowledge::KnowledgeBases> bases);

}  // namespace helix::cli

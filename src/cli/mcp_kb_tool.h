// The knowledge-base search tool of Helix's MCP server (`helix mcp` and serve's /mcp): hybrid
// retrieval (BM25 + vectors) over the bases `helix kb` made.
#pragma once

#include <memory>
#include <string>

#include "mcp/mcp.h"

namespace helix::model {
class BertEncoder;
}

namespace helix::cli {

// `kb_search`: {"query", "knowledge_base"? (needed when there are several), "k"? (default 5, at
// most 20), "mode"? ("hybrid", "bm25", "vector")}. `encoder` may be null (BM25 only).
void add_kb_search_tool(mcp::Server& s, const std::string& kb_dir, std::shared_ptr<model::BertEncoder> encoder);

}  // namespace helix::cli

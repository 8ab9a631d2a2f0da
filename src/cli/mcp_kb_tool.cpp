// The kb_search MCP tool (see mcp_kb_tool.h).
#include "cli/mcp_kb_tool.h"

#include "knowledge/service.h"

namespace helix::cli {

namespace {

using ojson = nlohmann::ordered_json;

ojson schema() {
  return ojson::parse(R"js({
    "type": "object",
    "properties": {
      "query": {"type": "string", "description": "What to look for"},
      "knowledge_base": {"type": "string", "description": "The base's name (helix kb list); optional when there is one"},
      "k": {"type": "integer", "minimum": 1, "maximum": 20, "description": "How many passages (default 5)"},
      "mode": {"enum": ["hybrid", "bm25", "vector"], "description": "Retrieval: hybrid (default), bm25 or vector"}
    },
    "required": ["query"]})js");
}

std::string string_arg(const ojson& a, const char* key, const std::string& fallback) {
  auto it = a.find(key);
  if (it == a.end() || it->is_null()) return fallback;
  if (!it->is_string()) throw mcp::ToolError(cat("'", key, "' must be a string"));
  return it->get<std::string>();
}

mcp::ToolResult search(knowledge::KnowledgeBases& bases, const ojson& a) {
  knowledge::SearchRequest r;
  r.query = string_arg(a, "query", "");
  if (r.query.empty()) throw mcp::ToolError("kb_search needs a non-empty 'query'");
  r.kb = string_arg(a, "knowledge_base", "");
  r.mode = string_arg(a, "mode", "");
  if (auto it = a.find("k"); it != a.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 20)
      throw mcp::ToolError("'k' must be an integer from 1 to 20");
    r.k = static_cast<size_t>(it->get<int64_t>());
  }
  knowledge::SearchResult res;
  try {
    res = knowledge::search(bases, r);
  } catch (const std::exception& e) {
    throw mcp::ToolError(e.what());
  }
  std::string text;
  ojson list = ojson::array();
  for (size_t i = 0; i < res.hits.size(); ++i) {
    const auto& h = res.hits[i];
    text += cat("[", i + 1, "] ", h.doc, h.page ? cat(", page ", h.page) : "", h.section.empty() ? "" : " § " + h.section, "\n",
                h.text, "\n\n");
    list.push_back({{"doc", h.doc}, {"title", h.title}, {"section", h.section}, {"page", h.page}, {"text", h.text},
                    {"score", h.score}, {"chunk_id", h.chunk_id}});
  }
  if (res.hits.empty()) text = "no passages matched";
  return {text, {{"knowledge_base", res.kb}, {"passages", list}}, false};
}

}  // namespace

void add_kb_search_tool(mcp::Server& s, std::shared_ptr<knowledge::KnowledgeBases> bases) {
  s.add_tool({"kb_search", "Search Helix's local knowledge bases (documents added with `helix kb add`): numbered passages with their sources.",
              schema(), [bases](const ojson& a) { return search(*bases, a); }});
}

}  // namespace helix::cli

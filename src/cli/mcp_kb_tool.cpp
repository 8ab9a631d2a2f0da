// The kb_search MCP tool (see mcp_kb_tool.h).
#include "cli/mcp_kb_tool.h"

#include <map>
#include <mutex>

#include "knowledge/retrieval.h"
#include "knowledge/store.h"
#include "model/bert.h"

namespace helix::cli {

namespace {

using ojson = nlohmann::ordered_json;

struct KbState {
  std::string dir;
  std::shared_ptr<model::BertEncoder> encoder;
  std::mutex mu;  // SQLite handles and the encoder are used by one call at a time
  std::map<std::string, std::unique_ptr<knowledge::KnowledgeBase>> open;
};

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

mcp::ToolResult search(KbState& st, const ojson& a) {
  const std::string query = string_arg(a, "query", "");
  if (query.empty()) throw mcp::ToolError("kb_search needs a non-empty 'query'");
  std::string name = string_arg(a, "knowledge_base", "");
  knowledge::QueryOptions o;
  o.k = 5;
  if (auto it = a.find("k"); it != a.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 20)
      throw mcp::ToolError("'k' must be an integer from 1 to 20");
    o.k = static_cast<size_t>(it->get<int64_t>());
  }
  try {
    o.mode = knowledge::parse_retrieval_mode(string_arg(a, "mode", st.encoder ? "hybrid" : "bm25"));
  } catch (const std::exception& e) {
    throw mcp::ToolError(e.what());
  }
  if (o.mode != knowledge::RetrievalMode::Bm25 && !st.encoder)
    throw mcp::ToolError("no embedding model is loaded, so only mode 'bm25' is available");
  std::lock_guard<std::mutex> lk(st.mu);
  if (name.empty()) {
    const auto names = knowledge::KnowledgeBase::list(st.dir);
    if (names.empty()) throw mcp::ToolError(cat("there are no knowledge bases in ", st.dir, "; make one with: helix kb create NAME"));
    if (names.size() > 1) {
      std::string all;
      for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
      throw mcp::ToolError(cat("there are several knowledge bases (", all, "): name one in 'knowledge_base'"));
    }
    name = names[0];
  }
  auto& kb = st.open[name];
  if (!kb) {
    try {
      kb = knowledge::KnowledgeBase::open(st.dir, name);
      if (st.encoder) kb->check_encoder(*st.encoder);
    } catch (const std::exception& e) {
      st.open.erase(name);
      throw mcp::ToolError(e.what());
    }
  }
  const auto hits = knowledge::retrieve(*kb, st.encoder.get(), query, o);
  std::string text;
  ojson list = ojson::array();
  for (size_t i = 0; i < hits.size(); ++i) {
    const auto& h = hits[i];
    text += cat("[", i + 1, "] ", h.doc, h.page ? cat(", page ", h.page) : "", h.section.empty() ? "" : " § " + h.section, "\n",
                h.text, "\n\n");
    list.push_back({{"doc", h.doc}, {"title", h.title}, {"section", h.section}, {"page", h.page}, {"text", h.text},
                    {"score", h.score}, {"chunk_id", h.chunk_id}});
  }
  if (hits.empty()) text = "no passages matched";
  return {text, {{"knowledge_base", name}, {"passages", list}}, false};
}

}  // namespace

void add_kb_search_tool(mcp::Server& s, const std::string& kb_dir, std::shared_ptr<model::BertEncoder> encoder) {
  auto st = std::make_shared<KbState>();
  st->dir = kb_dir;
  st->encoder = std::move(encoder);
  s.add_tool({"kb_search", "Search Helix's local knowledge bases (documents added with `helix kb add`): numbered passages with their sources.",
              schema(), [st](const ojson& a) { return search(*st, a); }});
}

}  // namespace helix::cli

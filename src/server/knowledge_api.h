// Knowledge bases in the server (helix serve --kb-dir DIR):
//   - the pipeline hook for /v1/chat/completions' extension field
//       "knowledge": {"kb": "NAME", "k": 3, "analyser": "rules"|"model", "rerank": false}
//     which analyses the last user message into knowledge points, retrieves numbered passages
//     (knowledge/grounding.h), puts them into that message (the grounded prompt) and, once the
//     answer is generated, adds "citations" (each [n] resolved to doc, page, section, span and
//     text), "unresolved_citations" and "knowledge" (the points and passages) to the response —
//     streamed: to the chunk with the last finish_reason. Not streamed, citations that point
//     nowhere are removed from the answer's text.
//   - the /v1/kb routes:
//       GET    /v1/kb                        the bases: [{"name", "docs", "chunks"}]
//       POST   /v1/kb {"name"}               create one (201; 409 when it exists)
//       GET    /v1/kb/NAME/docs              its documents
//       POST   /v1/kb/NAME/docs              add documents: multipart/form-data files (field "file",
//                                             repeatable) or JSON {"name": "notes.md", "text": "..."}
//                                             or {"documents": [{"name", "text"}, ...]}; stored under
//                                             DIR/NAME/uploads/, so re-adding the same bytes does nothing
//       DELETE /v1/kb/NAME/docs/DOC          remove a document (id or file name)
//       POST   /v1/kb/NAME/query {"query", "k", "mode": "hybrid"|"bm25"|"vector", "points": false}
// The embedding model runs between engine steps (it shares the kernels' thread pool); every base is
// used under one lock: the knowledge::KnowledgeBases' (shared with MCP's kb_search and the kb plugin).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "server/api_json.h"
#include "server/engine.h"
#include "server/pipeline.h"

namespace helix::model {
class BertEncoder;
}
namespace helix::knowledge {
class KnowledgeBase;
class KnowledgeBases;
}

namespace helix::server {

class KnowledgeService {
 public:
  // bases: the knowledge-base folder with its embedding model (needed here).
  KnowledgeService(Engine& eng, std::shared_ptr<knowledge::KnowledgeBases> bases, std::string chat_template);
  ~KnowledgeService();

  // Route bodies (throw ApiError); each returns the response JSON.
  ojson list();
  ojson create(const std::string& body);
  ojson docs(const std::string& kb);
  // files: (file name, bytes); from multipart or JSON.
  ojson add(const std::string& kb, const std::vector<std::pair<std::string, std::string>>& files);
  ojson remove(const std::string& kb, const std::string& doc);
  ojson query(const std::string& kb, const std::string& body);
  // The documents a JSON add body carries.
  static std::vector<std::pair<std::string, std::string>> json_documents(const std::string& body);

  // The pipeline hook using this service.
  std::shared_ptr<PipelineHook> hook();

  Engine& engine() { return eng_; }
  model::BertEncoder& encoder();
  const std::string& chat_template() const { return tmpl_; }
  std::mutex& mutex();
  // The open base (knowledge::KnowledgeBases::open: cached, opened again when another process
  // changed it); throws ApiError 404 naming POST /v1/kb when it does not exist.
  knowledge::KnowledgeBase& open(const std::string& name);  // call with mutex() held

 private:
  Engine& eng_;
  std::shared_ptr<knowledge::KnowledgeBases> bases_;
  std::string dir_;
  std::string tmpl_;
};

}  // namespace helix::server

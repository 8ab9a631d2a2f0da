// Knowledge bases in the server (helix serve --kb-dir DIR):
//   - the pipeline hook for /v1/chat/completions' extension field
//       "knowledge": {"kb": "NAME", "k": 8, "analyser": "rules"|"model", "rerank": false}
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
// used under one lock.
#pragma once

#include <map>
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
}

namespace helix::server {

class KnowledgeService {
 public:
  KnowledgeService(Engine& eng, std::string kb_dir, std::shared_ptr<model::BertEncoder> enc, std::string chat_template);
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
  model::BertEncoder& encoder() { return *enc_; }
  const std::string& chat_template() const { return tmpl_; }
  std::mutex& mutex() { return mu_; }
  // The open base (cached, and opened again when another process changed it, so its vector index
  // follows); throws ApiError 404 naming POST /v1/kb when it does not exist.
  knowledge::KnowledgeBase& open(const std::string& name);  // call with mutex() held

 private:
  Engine& eng_;
  std::string dir_;
  std::shared_ptr<model::BertEncoder> enc_;
  std::string tmpl_;
  std::mutex mu_;
  struct Open {
    std::unique_ptr<knowledge::KnowledgeBase> kb;
    int64_t data_version = 0;  // SQLite's: changes when another process (helix kb add) commits
  };
  std::map<std::string, Open> open_;
};

}  // namespace helix::server

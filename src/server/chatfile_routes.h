// ChatFile over HTTP: OpenAI's files API for uploads and a route that runs ChatFile's tasks on
// uploaded files with the server's own engine (the same outputs as `helix chatfile --json`).
//   POST   /v1/files              multipart: file (txt, md, html, pdf, docx), purpose -> file object
//   GET    /v1/files              {"object":"list","data":[file objects]}
//   GET    /v1/files/{id}         the file object;  GET /v1/files/{id}/content  its bytes
//   DELETE /v1/files/{id}         {"id","object":"file","deleted":true}
//   POST   /v1/chatfile           {"file_ids":[...], "tasks":["summary","topics","minutes","key_points"],
//                                  "questions":[...], "language":"auto"} -> {"summary":{...}, ..., "answers":[...]}
// Files live in one folder per id under files_dir (meta.json + the bytes under their name).
// Questions need the served embedding model (helix serve --embeddings) to build the file's
// index once (kept open for later requests on the same files); answers retrieve from it by the
// hybrid of BM25 and vectors, the question embedded between engine steps (the encoder shares the
// kernels' threads with generation).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "server/api_json.h"
#include "server/engine.h"
#include "server/http_server.h"

namespace helix::model {
class BertEncoder;
}
namespace helix::knowledge {
class KnowledgeBase;
}
namespace helix::chatfile {
struct Corpus;
}

namespace helix::server {

struct ChatFileRoutesOptions {
  std::string files_dir;   // "": $XDG_DATA_HOME/helix/files (~/.local/share/helix/files)
  std::string cache_dir;   // "": ChatFile's default cache folder
  std::string chat_template;
  std::string model_id;
  std::shared_ptr<model::BertEncoder> embedder;  // null: questions are refused with a hint
};

class ChatFileRoutes {
 public:
  ChatFileRoutes(Engine& eng, ChatFileRoutesOptions o);
  // Registers the routes; `wrap` makes a handler's exceptions OpenAI-shaped errors.
  void add(http::HttpServer& svr, const std::function<httplib::Server::Handler(httplib::Server::Handler)>& wrap);

 private:
  ojson upload(const httplib::Request& req);
  ojson list() const;
  ojson info(const std::string& id) const;  // throws ApiError 404
  std::string path_of(const std::string& id) const;
  ojson remove(const std::string& id);
  ojson run(const std::string& body);

  // The open index of a corpus's files (built on first use; the most recent few kept open).
  std::shared_ptr<knowledge::KnowledgeBase> index_for(const chatfile::Corpus& c);

  Engine& eng_;
  ChatFileRoutesOptions o_;
  std::mutex index_mu_;  // index builds, the open indexes and their use, one at a time
  std::vector<std::pair<std::string, std::shared_ptr<knowledge::KnowledgeBase>>> indexes_;  // newest last
};

}  // namespace helix::server

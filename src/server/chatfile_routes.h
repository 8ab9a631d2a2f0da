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
// index once; answers then retrieve with BM25 over it, so a question never embeds on a worker
// thread while the engine runs.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "server/api_json.h"
#include "server/engine.h"
#include "server/http_server.h"

namespace helix::model {
class BertEncoder;
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

  Engine& eng_;
  ChatFileRoutesOptions o_;
  std::mutex index_mu_;  // one index build at a time
};

}  // namespace helix::server

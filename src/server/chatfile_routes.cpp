#include "server/chatfile_routes.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "chatfile/mapreduce.h"
#include "chatfile/qa.h"
#include "core/error.h"
#include "docs/document.h"
#include "model/bert.h"
#include "plugins/chatfile_tool.h"
#include "server/chatfile_backend.h"

namespace helix::server {

namespace fs = std::filesystem;

namespace {

ApiError bad(const std::string& msg, const std::string& param = "") {
  return ApiError{400, msg, "invalid_request_error", param, "invalid_value"};
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_all(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  HELIX_CHECK(out.good(), "cannot write ", path);
}

// A file name safe to store: its last path component, without control characters.
std::string safe_name(const std::string& name) {
  std::string n = fs::path(name).filename().string();
  std::string out;
  for (char c : n) out += static_cast<unsigned char>(c) < 0x20 || c == '/' || c == '\\' ? '_' : c;
  if (out.empty() || out == "." || out == "..") out = "upload.txt";
  return out;
}

bool valid_id(const std::string& id) {
  if (id.size() != 29 || id.rfind("file-", 0) != 0) return false;
  return id.find_first_not_of("0123456789abcdef", 5) == std::string::npos;
}

chatfile::Task parse_task(const std::string& t) {
  if (t == "summary") return chatfile::Task::Summary;
  if (t == "topics") return chatfile::Task::Topics;
  if (t == "minutes") return chatfile::Task::Minutes;
  if (t == "key_points") return chatfile::Task::KeyPoints;
  throw bad(cat("unknown task '", t, "': use summary, topics, minutes or key_points"), "tasks");
}

}  // namespace

ChatFileRoutes::ChatFileRoutes(Engine& eng, ChatFileRoutesOptions o) : eng_(eng), o_(std::move(o)) {
  if (o_.files_dir.empty()) o_.files_dir = plugins::default_files_dir();
  if (o_.cache_dir.empty()) o_.cache_dir = chatfile::PartCache::default_root();
}

void ChatFileRoutes::add(http::HttpServer& svr,
                         const std::function<httplib::Server::Handler(httplib::Server::Handler)>& wrap) {
  auto json = [](httplib::Response& res, const ojson& j) { res.set_content(j.dump(), "application/json"); };
  svr.Post("/v1/files", wrap([this, json](const httplib::Request& req, httplib::Response& res) { json(res, upload(req)); }));
  svr.Get("/v1/files", wrap([this, json](const httplib::Request&, httplib::Response& res) { json(res, list()); }));
  svr.Get("/v1/files/([^/]+)/content", wrap([this](const httplib::Request& req, httplib::Response& res) {
            info(req.matches[1]);
            res.set_content(read_all(path_of(req.matches[1])), "application/octet-stream");
          }));
  svr.Get("/v1/files/([^/]+)", wrap([this, json](const httplib::Request& req, httplib::Response& res) {
            json(res, info(req.matches[1]));
          }));
  svr.Delete("/v1/files/([^/]+)", wrap([this, json](const httplib::Request& req, httplib::Response& res) {
               json(res, remove(req.matches[1]));
             }));
  svr.Post("/v1/chatfile", wrap([this, json](const httplib::Request& req, httplib::Response& res) { json(res, run(req.body)); }));
}

ojson ChatFileRoutes::upload(const httplib::Request& req) {
  if (!req.is_multipart_form_data() || !req.has_file("file"))
    throw bad("upload the file as multipart/form-data with a 'file' part (and 'purpose')", "file");
  const auto f = req.get_file_value("file");
  const std::string name = safe_name(f.filename.empty() ? "upload.txt" : f.filename);
  if (!docs::is_supported(name))
    throw bad(cat("'", name, "' is not a type ChatFile reads: use .txt .md .html .pdf or .docx"), "file");
  const std::string purpose = req.has_file("purpose") ? req.get_file_value("purpose").content : "assistants";
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mu;
  std::string id = "file-";
  {
    std::lock_guard<std::mutex> lk(mu);
    static const char* hex = "0123456789abcdef";
    for (int i = 0; i < 24; ++i) id += hex[rng() & 15];
  }
  const std::string dir = o_.files_dir + "/" + id;
  fs::create_directories(dir);
  write_all(dir + "/" + name, f.content);
  const ojson meta = {{"id", id},
                      {"object", "file"},
                      {"bytes", f.content.size()},
                      {"created_at", std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch()).count()},
                      {"filename", name},
                      {"purpose", purpose},
                      {"status", "processed"}};
  write_all(dir + "/meta.json.tmp", meta.dump());
  fs::rename(dir + "/meta.json.tmp", dir + "/meta.json");
  return meta;
}

ojson ChatFileRoutes::info(const std::string& id) const {
  const std::string meta = o_.files_dir + "/" + id + "/meta.json";
  if (!valid_id(id) || !fs::exists(meta))
    throw ApiError{404, cat("No such file: '", id, "'"), "invalid_request_error", "file_id", "not_found"};
  return ojson::parse(read_all(meta));
}

std::string ChatFileRoutes::path_of(const std::string& id) const {
  return o_.files_dir + "/" + id + "/" + info(id)["filename"].get<std::string>();
}

ojson ChatFileRoutes::list() const {
  ojson data = ojson::array();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(o_.files_dir, ec)) {
    const std::string id = e.path().filename().string();
    if (valid_id(id) && fs::exists(e.path() / "meta.json")) data.push_back(info(id));
  }
  return {{"object", "list"}, {"data", data}};
}

ojson ChatFileRoutes::remove(const std::string& id) {
  info(id);
  fs::remove_all(o_.files_dir + "/" + id);
  return {{"id", id}, {"object", "file"}, {"deleted", true}};
}

std::shared_ptr<knowledge::KnowledgeBase> ChatFileRoutes::index_for(const chatfile::Corpus& c) {
  std::string key = o_.embedder->source();
  for (const auto& s : c.sha256) key += " " + s;
  std::lock_guard<std::mutex> lk(index_mu_);
  for (auto it = indexes_.begin(); it != indexes_.end(); ++it)
    if (it->first == key) {
      auto kb = it->second;
      indexes_.erase(it);
      indexes_.emplace_back(key, kb);  // most recently used last
      return kb;
    }
  std::shared_ptr<knowledge::KnowledgeBase> kb;
  eng_.run_between_steps([&] { kb = chatfile::open_index(o_.cache_dir + "/index", c, *o_.embedder); });
  indexes_.emplace_back(key, kb);
  if (indexes_.size() > 8) indexes_.erase(indexes_.begin());  // a request still using it keeps it alive
  return kb;
}

ojson ChatFileRoutes::run(const std::string& body) {
  const ojson b = parse_body(body);
  if (!b.contains("file_ids") || !b["file_ids"].is_array() || b["file_ids"].empty())
    throw bad("'file_ids' must be a non-empty array of ids from POST /v1/files", "file_ids");
  std::vector<std::string> paths;
  for (const auto& id : b["file_ids"]) {
    if (!id.is_string()) throw bad("'file_ids' must hold strings", "file_ids");
    paths.push_back(path_of(id.get<std::string>()));
  }
  std::vector<chatfile::Task> tasks;
  if (b.contains("task")) tasks.push_back(parse_task(b["task"].is_string() ? b["task"].get<std::string>() : ""));
  for (const auto& t : b.value("tasks", ojson::array())) tasks.push_back(parse_task(t.is_string() ? t.get<std::string>() : ""));
  std::vector<std::string> questions;
  for (const auto& q : b.value("questions", ojson::array())) {
    if (!q.is_string() || q.get<std::string>().empty()) throw bad("'questions' must hold non-empty strings", "questions");
    questions.push_back(q.get<std::string>());
  }
  if (tasks.empty() && questions.empty()) throw bad("give 'tasks' (summary, topics, minutes, key_points) or 'questions'", "tasks");
  if (!questions.empty() && !o_.embedder)
    throw bad("questions need the embedding model to index the file: start helix serve with --embeddings", "questions");
  const int64_t unit = b.value("chunk_tokens", int64_t{1500});
  if (unit < 64 || unit * 2 + 512 > eng_.options().n_ctx)
    throw bad(cat("'chunk_tokens' must be at least 64 and fit the context of ", eng_.options().n_ctx, " twice over"),
              "chunk_tokens");
  chatfile::CorpusOptions co;
  co.unit_tokens = static_cast<size_t>(unit);
  chatfile::Corpus corpus;
  try {
    corpus = chatfile::load_corpus(paths, co);
    corpus.lang = chatfile::parse_lang(b.value("language", std::string("auto")), corpus.docs[0].text.substr(0, 20000));
  } catch (const Error& e) {
    throw bad(e.what(), "file_ids");
  }
  EngineBackend backend(eng_, o_.chat_template, o_.model_id);
  ojson out = {{"object", "chatfile"}, {"file_ids", b["file_ids"]}, {"language", chatfile::lang_name(corpus.lang)},
               {"tokens", corpus.tokens}};
  for (auto t : tasks) {
    std::vector<std::string> key = corpus.sha256;
    key.push_back(cat(chatfile::task_name(t), " chunk=", unit, " lang=", chatfile::lang_name(corpus.lang)));
    chatfile::PartCache cache(o_.cache_dir, chatfile::key_of(key));
    chatfile::JobOptions jo;
    jo.cache = &cache;
    out[chatfile::task_name(t)] = chatfile::run_task(backend, corpus, t, jo).to_json();
  }
  if (!questions.empty()) {
    const std::shared_ptr<knowledge::KnowledgeBase> kb = index_for(corpus);
    chatfile::QaOptions qo;
    qo.mode = knowledge::RetrievalMode::Hybrid;
    qo.run_retrieval = [this](const std::function<void()>& f) {
      std::lock_guard<std::mutex> lk(index_mu_);
      eng_.run_between_steps(f);
    };
    chatfile::DocQA qa(backend, corpus, *kb, o_.embedder.get(), qo);
    out["answers"] = ojson::array();
    for (const auto& q : questions) out["answers"].push_back(qa.ask(q).to_json());
  }
  return out;
}

}  // namespace helix::server

// The chatfile built-in (see chatfile_tool.h).
#include "plugins/chatfile_tool.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chatfile/cache.h"
#include "chatfile/mapreduce.h"
#include "chatfile/qa.h"
#include "core/error.h"

namespace helix::plugins {

namespace fs = std::filesystem;

namespace {

const char* kDocument =
    "The document: the id of an uploaded file (\"file-...\") or the path of a local file (txt, md, html, pdf, docx)";

std::string string_arg(const ojson& a, const char* key) {
  auto it = a.find(key);
  HELIX_CHECK(it != a.end() && it->is_string() && !it->get<std::string>().empty(), "the argument '", key,
              "' must be a non-empty string");
  return it->get<std::string>();
}

chatfile::Task task_of(const std::string& t) {
  if (t == "summary") return chatfile::Task::Summary;
  if (t == "topics") return chatfile::Task::Topics;
  if (t == "minutes") return chatfile::Task::Minutes;
  if (t == "key_points") return chatfile::Task::KeyPoints;
  throw Error(cat("unknown task '", t, "': use summary, topics, key_points or minutes"));
}

// The file a `document` argument names, checked against where documents may come from.
std::string document_path(const DocTools& d, const std::string& doc) {
  if (doc.rfind("file-", 0) == 0 && doc.find('/') == std::string::npos) return uploaded_file(d.files_dir, doc);
  HELIX_CHECK(!d.docs_dir.empty(), "'", doc, "' is not the id of an uploaded file (upload it with POST /v1/files); ",
              "local paths are not allowed here");
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(d.docs_dir, ec);
  const fs::path p = fs::weakly_canonical(fs::path(doc).is_absolute() ? fs::path(doc) : root / doc, ec);
  const auto rel = p.lexically_relative(root);
  HELIX_CHECK(!ec && !rel.empty() && *rel.begin() != "..", "'", doc, "' is outside the documents folder ", root.string(),
              ": only files in it can be read");
  HELIX_CHECK(fs::is_regular_file(p, ec), "no such document: '", doc, "' (in ", root.string(), ")");
  return p.string();
}

// Units of up to 1500 tokens (ChatFile's default), fewer where the context cannot hold two of
// them and the reply (as the server's /v1/chatfile requires).
size_t unit_tokens(const DocTools& d) {
  return static_cast<size_t>(std::clamp<int64_t>((d.backend->context() - 512) / 2, 64, 1500));
}

chatfile::Corpus corpus_of(const DocTools& d, const std::string& path) {
  chatfile::CorpusOptions co;
  co.unit_tokens = unit_tokens(d);
  chatfile::Corpus c = chatfile::load_corpus({path}, co);
  c.lang = chatfile::detect_lang(c.docs[0].text.substr(0, 20000));
  return c;
}

std::string cache_root(const DocTools& d) { return d.cache_dir.empty() ? chatfile::PartCache::default_root() : d.cache_dir; }

}  // namespace

std::string default_files_dir() {
  const char* x = std::getenv("XDG_DATA_HOME");
  const char* h = std::getenv("HOME");
  return x && *x ? std::string(x) + "/helix/files" : std::string(h ? h : "/tmp") + "/.local/share/helix/files";
}

std::string uploaded_file(const std::string& files_dir, const std::string& id) {
  const std::string dir = (files_dir.empty() ? default_files_dir() : files_dir) + "/" + id;
  std::ifstream f(dir + "/meta.json");
  HELIX_CHECK(id.size() == 29 && id.find_first_not_of("0123456789abcdef", 5) == std::string::npos && f.good(),
              "no uploaded file '", id, "' (GET /v1/files lists them)");
  std::stringstream ss;
  ss << f.rdbuf();
  const ojson meta = ojson::parse(ss.str(), nullptr, false);
  HELIX_CHECK(meta.is_object() && meta.contains("filename") && meta["filename"].is_string(), "the uploaded file '", id,
              "' has a broken meta.json");
  return dir + "/" + meta["filename"].get<std::string>();
}

std::vector<ToolSpec> chatfile_tools() {
  std::vector<ToolSpec> out;
  out.push_back({"document_summary",
                 "Summarize a document of any length with ChatFile (map-reduce over its parts): a summary, its topics, "
                 "key points, or meeting minutes (decisions, action items with owners and dates).",
                 ojson{{"type", "object"},
                       {"properties",
                        {{"document", {{"type", "string"}, {"description", kDocument}}},
                         {"task", {{"type", "string"}, {"enum", {"summary", "topics", "key_points", "minutes"}},
                                   {"description", "What to make of it (default: summary)"}}}}},
                       {"required", {"document"}}}});
  out.push_back({"document_ask",
                 "Answer a question from a document's own passages, with [n] citations pointing to them.",
                 ojson{{"type", "object"},
                       {"properties",
                        {{"document", {{"type", "string"}, {"description", kDocument}}},
                         {"question", {{"type", "string"}, {"description", "The question about the document"}}}}},
                       {"required", {"document", "question"}}}});
  return out;
}

ToolResult call_chatfile_tool(const DocTools& d, const std::string& tool, const ojson& args) {
  HELIX_CHECK(args.is_object(), "the arguments must be a JSON object");
  HELIX_CHECK(tool == "document_summary" || tool == "document_ask", "the chatfile plugin has no tool '", tool,
              "' (document_summary, document_ask)");
  HELIX_CHECK(d.backend, "the chatfile plugin needs the language model, which this program does not give it");
  const std::string path = document_path(d, string_arg(args, "document"));
  const chatfile::Corpus corpus = corpus_of(d, path);
  if (tool == "document_summary") {
    const chatfile::Task t = task_of(args.contains("task") && args["task"].is_string() ? args["task"].get<std::string>() : "summary");
    std::vector<std::string> key = corpus.sha256;
    key.push_back(cat(chatfile::task_name(t), " chunk=", unit_tokens(d), " lang=", chatfile::lang_name(corpus.lang)));
    chatfile::PartCache cache(cache_root(d), chatfile::key_of(key));
    chatfile::JobOptions jo;
    jo.cache = &cache;
    ojson out = chatfile::run_task(*d.backend, corpus, t, jo).to_json();
    return {true, out.dump()};
  }
  const std::string question = string_arg(args, "question");
  HELIX_CHECK(d.encoder, "questions need the embedding model to index the document (helix serve --embeddings, or install "
                         "the default embedding model)");
  std::unique_ptr<knowledge::KnowledgeBase> kb;
  auto build = [&] { kb = chatfile::open_index(cache_root(d) + "/index", corpus, *d.encoder); };
  if (d.between_steps) d.between_steps(build);
  else build();
  chatfile::QaOptions qo;
  qo.mode = knowledge::RetrievalMode::Bm25;  // the question is not embedded while the engine runs
  chatfile::DocQA qa(*d.backend, corpus, *kb, nullptr, qo);
  return {true, qa.ask(question).to_json().dump()};
}

namespace {
class ChatFileExecutor : public Executor {
 public:
  explicit ChatFileExecutor(std::shared_ptr<const DocTools> d) : d_(std::move(d)) {}
  std::vector<ToolSpec> tools() override { return chatfile_tools(); }
  ToolResult call(const std::string& tool, const ojson& args) override {
    HELIX_CHECK(d_, "the chatfile plugin runs where Helix serves the model: helix serve (\"plugins\": [\"chatfile\"]) or helix mcp");
    return call_chatfile_tool(*d_, tool, args);
  }

 private:
  std::shared_ptr<const DocTools> d_;
};
}  // namespace

std::unique_ptr<Executor> make_chatfile_builtin(const Context& ctx) { return std::make_unique<ChatFileExecutor>(ctx.docs); }

}  // namespace helix::plugins

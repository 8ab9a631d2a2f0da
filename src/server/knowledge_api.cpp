// Knowledge bases in the server: the chat pipeline's retrieval hook and the /v1/kb routes (see
// knowledge_api.h).
#include "server/knowledge_api.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <type_traits>

#include "core/error.h"
#include "grammar/grammar.h"
#include "knowledge/grounding.h"
#include "knowledge/service.h"
#include "knowledge/store.h"
#include "model/bert.h"

namespace fs = std::filesystem;

namespace helix::server {

namespace {

ApiError bad(const std::string& msg, const std::string& param, int status = 400) {
  return ApiError{status, msg, "invalid_request_error", param, status == 404 ? "not_found" : "invalid_value"};
}

ApiError no_base(const std::string& name) {
  return bad("no knowledge base '" + name + "'; create it with POST /v1/kb {\"name\": \"" + name + "\"}", "kb", 404);
}

// An ApiError for what the knowledge library throws (bad names, unreadable files).
template <typename F>
auto as_api_error(const std::string& param, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const ApiError&) {
    throw;
  } catch (const Error& e) {
    throw bad(e.what(), param);
  }
}

struct Request {
  std::string kb, analyser = "rules";
  size_t k = knowledge::kAnswerPassages;
  bool rerank = false;
};

Request read_request(const ojson& j) {
  if (!j.is_object()) throw bad("'knowledge' must be an object such as {\"kb\": \"NAME\", \"k\": 8}", "knowledge");
  Request r;
  if (!j.contains("kb") || !j["kb"].is_string() || j["kb"].get<std::string>().empty())
    throw bad("'knowledge.kb' must name a knowledge base (GET /v1/kb lists them)", "knowledge.kb");
  r.kb = j["kb"].get<std::string>();
  if (j.contains("k")) {
    if (!j["k"].is_number_integer() || j["k"].get<int64_t>() < 1 || j["k"].get<int64_t>() > 50)
      throw bad("'knowledge.k' must be an integer from 1 to 50", "knowledge.k");
    r.k = j["k"].get<size_t>();
  }
  if (j.contains("analyser")) {
    if (!j["analyser"].is_string() || (j["analyser"] != "rules" && j["analyser"] != "model"))
      throw bad("'knowledge.analyser' must be \"rules\" or \"model\"", "knowledge.analyser");
    r.analyser = j["analyser"].get<std::string>();
  }
  if (j.contains("rerank")) {
    if (!j["rerank"].is_boolean()) throw bad("'knowledge.rerank' must be true or false", "knowledge.rerank");
    r.rerank = j["rerank"].get<bool>();
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "kb" && it.key() != "k" && it.key() != "analyser" && it.key() != "rerank")
      throw bad("unknown field 'knowledge." + it.key() + "' (kb, k, analyser, rerank)", "knowledge." + it.key());
  return r;
}

struct State {
  Request req;
  knowledge::Analysis analysis;
  std::vector<knowledge::Passage> passages;
};

class KnowledgeHook : public PipelineHook {
 public:
  explicit KnowledgeHook(KnowledgeService& s) : svc_(s) {}

  void before_template(Generation& g) override {
    const ojson& body = *g.request;
    const auto it = body.find("knowledge");
    if (it == body.end() || it->is_null()) return;
    if (!g.chat) throw bad("'knowledge' is read by /v1/chat/completions only", "knowledge");
    auto st = std::make_shared<State>();
    st->req = read_request(*it);
    size_t last = g.messages.size();
    for (size_t i = 0; i < g.messages.size(); ++i)
      if (g.messages[i]["role"] == "user") last = i;
    if (last == g.messages.size() || !g.messages[last]["content"].is_string())
      throw bad("'knowledge' needs a user message holding the question", "messages");
    const std::string question = g.messages[last]["content"].get<std::string>();
    st->analysis = st->req.analyser == "model"
                       ? knowledge::analyse_with_model(question, [&](const std::string& p, const ojson& schema) {
                           return generate_json(p, schema, g.spec.gen.lora_set);
                         })
                       : knowledge::analyse_rules(question);
    knowledge::PointQueryOptions q;
    q.k = st->req.k;
    q.rerank = st->req.rerank;
    const tok::Tokenizer& tok = svc_.engine().tokenizer();
    q.token_budget = static_cast<size_t>(std::min<int64_t>(1500, svc_.engine().options().n_ctx / 3));
    q.count_tokens = [&tok](const std::string& s) { return tok.encode(s, false, false).size(); };
    {
      std::lock_guard<std::mutex> lk(svc_.mutex());
      knowledge::KnowledgeBase& kb = svc_.open(st->req.kb);
      // The encoder shares the kernels' thread pool with generation: between engine steps.
      svc_.engine().run_between_steps(
          [&] { st->passages = knowledge::retrieve_points(kb, &svc_.encoder(), st->analysis, q); });
    }
    if (!st->passages.empty()) g.messages[last]["content"] = knowledge::grounded_prompt(question, st->passages);
    g.hook_state[this] = st;
  }

  void after_generation(Generation& g) override {
    const auto it = g.hook_state.find(this);
    if (it == g.hook_state.end()) return;
    const auto& st = *std::static_pointer_cast<State>(it->second);
    ojson first;
    for (size_t k = 0; k < g.texts.size(); ++k) {
      const knowledge::CitationCheck c = knowledge::check_citations(g.texts[k], st.passages);
      if (k == 0) first = {{"citations", knowledge::citations_json(c)}, {"unresolved_citations", c.unresolved}};
      if (!g.spec.stream) g.texts[k] = c.answer;  // streamed text is already sent: flagged only
    }
    ojson passages = ojson::array();
    for (const auto& p : st.passages) passages.push_back(knowledge::passage_json(p, &st.analysis));
    g.extra["citations"] = first["citations"];
    g.extra["unresolved_citations"] = first["unresolved_citations"];
    g.extra["knowledge"] = {{"kb", st.req.kb}, {"analysis", knowledge::analysis_json(st.analysis)}, {"passages", passages}};
  }

 private:
  // The model-based analyser: the question's analysis generated by the engine under the schema.
  std::string generate_json(const std::string& prompt, const ojson& schema, int lora_set) {
    GenParams p;
    p.prompt = encode_chat_prompt(svc_.engine().tokenizer(), svc_.chat_template(),
                                  ojson::array({{{"role", "user"}, {"content", prompt}}}));
    p.max_tokens = 200;
    p.sampling.temperature = 0;
    p.grammar = grammar::Grammar::from_json_schema(schema);
    p.timeout_s = 120;
    p.lora_set = lora_set;
    auto ch = std::make_shared<Channel>();
    if (!svc_.engine().submit(std::move(p), 0, ch))
      throw ApiError{429, "the server is busy: too many requests are waiting; retry shortly", "rate_limit_error", "", "server_busy"};
    std::string out;
    for (Event e;;) {
      if (!ch->pop(e, std::chrono::milliseconds(200))) continue;
      out += e.text;
      if (e.done) break;
    }
    return out;
  }

  KnowledgeService& svc_;
};

}  // namespace

KnowledgeService::KnowledgeService(Engine& eng, std::shared_ptr<knowledge::KnowledgeBases> bases,
                                   std::string chat_template)
    : eng_(eng), bases_(std::move(bases)), dir_(bases_->dir()), tmpl_(std::move(chat_template)) {
  HELIX_CHECK(bases_->encoder(), "knowledge bases need the embedding model");
}
KnowledgeService::~KnowledgeService() = default;

std::shared_ptr<PipelineHook> KnowledgeService::hook() { return std::make_shared<KnowledgeHook>(*this); }

model::BertEncoder& KnowledgeService::encoder() { return *bases_->encoder(); }
std::mutex& KnowledgeService::mutex() { return bases_->mutex(); }

knowledge::KnowledgeBase& KnowledgeService::open(const std::string& name) {
  try {
    return bases_->open(name);
  } catch (const knowledge::NoSuchBase&) {
    throw no_base(name);
  } catch (const Error& e) {
    throw bad(e.what(), "kb");
  }
}

ojson KnowledgeService::list() {
  std::lock_guard<std::mutex> lk(mutex());
  ojson data = ojson::array();
  for (const auto& n : knowledge::KnowledgeBase::list(dir_)) {
    knowledge::KnowledgeBase& kb = open(n);
    data.push_back({{"name", n}, {"object", "knowledge_base"}, {"docs", kb.docs().size()}, {"chunks", kb.chunk_count()}});
  }
  return {{"object", "list"}, {"data", data}};
}

ojson KnowledgeService::create(const std::string& body) {
  const ojson j = parse_body(body);
  if (!j.contains("name") || !j["name"].is_string()) throw bad("'name' must be a string: the new base's name", "name");
  const std::string name = j["name"].get<std::string>();
  std::lock_guard<std::mutex> lk(mutex());
  as_api_error("name", [&] { knowledge::KnowledgeBase::check_name(name); });
  if (fs::exists(fs::path(dir_) / name))
    throw ApiError{409, "the knowledge base '" + name + "' exists already", "invalid_request_error", "name", "already_exists"};
  fs::create_directories(dir_);
  as_api_error("name", [&] { knowledge::KnowledgeBase::create(dir_, name, encoder()); });
  return {{"name", name}, {"object", "knowledge_base"}, {"docs", 0}, {"chunks", 0}};
}

ojson KnowledgeService::docs(const std::string& name) {
  std::lock_guard<std::mutex> lk(mutex());
  ojson data = ojson::array();
  for (const auto& d : open(name).docs())
    data.push_back({{"id", d.id}, {"path", d.path}, {"name", fs::path(d.path).filename().string()}, {"title", d.title},
                    {"format", d.format}, {"pages", d.pages}, {"chunks", d.chunks}, {"bytes", d.bytes},
                    {"sha256", d.sha256}, {"added", d.added}});
  return {{"object", "list"}, {"data", data}};
}

std::vector<std::pair<std::string, std::string>> KnowledgeService::json_documents(const std::string& body) {
  const ojson j = parse_body(body);
  std::vector<std::pair<std::string, std::string>> out;
  auto one = [&](const ojson& d, const std::string& where) {
    if (!d.is_object() || !d.contains("name") || !d["name"].is_string() || !d.contains("text") || !d["text"].is_string())
      throw bad(where + " must be {\"name\": \"notes.md\", \"text\": \"...\"} (or upload files as multipart/form-data)", where);
    out.emplace_back(d["name"].get<std::string>(), d["text"].get<std::string>());
  };
  if (j.contains("documents")) {
    if (!j["documents"].is_array() || j["documents"].empty()) throw bad("'documents' must be a non-empty list", "documents");
    for (size_t i = 0; i < j["documents"].size(); ++i) one(j["documents"][i], cat("documents[", i, "]"));
  } else {
    one(j, "the body");
  }
  return out;
}

ojson KnowledgeService::add(const std::string& name, const std::vector<std::pair<std::string, std::string>>& files) {
  if (files.empty()) throw bad("no documents: send multipart/form-data files (field \"file\") or JSON {\"name\", \"text\"}", "file");
  std::lock_guard<std::mutex> lk(mutex());
  knowledge::KnowledgeBase& kb = open(name);
  const fs::path uploads = fs::path(dir_) / name / "uploads";
  fs::create_directories(uploads);
  ojson results = ojson::array();
  for (const auto& [fname, bytes] : files) {
    const std::string base = fs::path(fname).filename().string();
    if (base.empty() || base == "." || base == ".." || base[0] == '.')
      throw bad("the file name '" + fname + "' is not usable; give a name such as notes.md", "file");
    const fs::path path = uploads / base;
    // Same name, same bytes: leave the file (add_file then finds it unchanged).
    {
      const fs::path tmp = uploads / ("." + base + ".part");
      std::ofstream(tmp, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      fs::rename(tmp, path);
    }
    ojson r = {{"name", base}};
    try {
      knowledge::AddResult a;
      eng_.run_between_steps([&] { a = kb.add_file(path.string(), encoder()); });
      r["status"] = knowledge::add_status_name(a.status);
      r["id"] = a.doc_id;
      r["chunks"] = a.chunks;
    } catch (const std::exception& e) {  // a damaged file is reported by name; the rest goes on
      fs::remove(path);
      r["status"] = "failed";
      r["error"] = e.what();
    }
    results.push_back(r);
  }
  kb.save();
  return {{"object", "list"}, {"data", results}};
}

ojson KnowledgeService::remove(const std::string& name, const std::string& doc) {
  std::lock_guard<std::mutex> lk(mutex());
  knowledge::KnowledgeBase& kb = open(name);
  knowledge::DocInfo d;
  try {
    d = kb.find_doc(doc);
  } catch (const Error& e) {
    throw bad(e.what(), "doc", 404);
  }
  kb.remove_doc(d.id);
  kb.save();
  if (fs::path(d.path).parent_path() == fs::path(dir_) / name / "uploads") fs::remove(d.path);
  return {{"id", d.id}, {"name", fs::path(d.path).filename().string()}, {"deleted", true}};
}

ojson KnowledgeService::query(const std::string& name, const std::string& body) {
  const ojson j = parse_body(body);
  if (!j.contains("query") || !j["query"].is_string() || j["query"].get<std::string>().empty())
    throw bad("'query' must be a non-empty string", "query");
  const std::string text = j["query"].get<std::string>();
  size_t k = 10;
  if (j.contains("k")) {
    if (!j["k"].is_number_integer() || j["k"].get<int64_t>() < 1 || j["k"].get<int64_t>() > 100)
      throw bad("'k' must be an integer from 1 to 100", "k");
    k = j["k"].get<size_t>();
  }
  auto field = [&](const char* key, auto fallback) {
    if (!j.contains(key)) return fallback;
    using T = decltype(fallback);
    const bool ok = std::is_same_v<T, bool> ? j[key].is_boolean() : j[key].is_string();
    if (!ok) throw bad(cat("'", key, "' must be ", std::is_same_v<T, bool> ? "true or false" : "a string"), key);
    return j[key].template get<T>();
  };
  const std::string mode = field("mode", std::string("hybrid"));
  const bool points = field("points", false), rerank = field("rerank", false);
  ojson data = ojson::array();
  if (points) {
    std::lock_guard<std::mutex> lk(mutex());
    knowledge::KnowledgeBase& kb = open(name);
    const knowledge::Analysis a = knowledge::analyse_rules(text);
    std::vector<knowledge::Passage> ps;
    eng_.run_between_steps([&] { ps = knowledge::retrieve_points(kb, &encoder(), a, {.k = k, .rerank = rerank}); });
    for (const auto& p : ps) data.push_back(knowledge::passage_json(p, &a));
    return {{"object", "list"}, {"analysis", knowledge::analysis_json(a)}, {"data", data}};
  }
  as_api_error("mode", [&] { knowledge::parse_retrieval_mode(mode); });
  knowledge::SearchResult res;
  try {
    res = knowledge::search(*bases_, {.kb = name, .query = text, .k = k, .mode = mode},
                            [&](const std::function<void()>& f) { eng_.run_between_steps(f); });
  } catch (const knowledge::NoSuchBase&) {
    throw no_base(name);
  } catch (const Error& e) {
    throw bad(e.what(), "kb");
  }
  for (size_t i = 0; i < res.hits.size(); ++i) {
    knowledge::Passage p;
    p.n = static_cast<int>(i + 1);
    p.hit = res.hits[i];
    data.push_back(knowledge::passage_json(p));
  }
  return {{"object", "list"}, {"data", data}};
}

}  // namespace helix::server

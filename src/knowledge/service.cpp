// Shared open knowledge bases and the one search (see service.h).
#include "knowledge/service.h"

#include <filesystem>

#include "knowledge/store.h"
#include "model/bert.h"

namespace fs = std::filesystem;

namespace helix::knowledge {

namespace {

int64_t data_version(KnowledgeBase& kb) {
  Stmt q(kb.db(), "PRAGMA data_version");
  return q.step() ? q.i64(0) : 0;
}

}  // namespace

KnowledgeBases::KnowledgeBases(std::string dir, std::shared_ptr<model::BertEncoder> enc)
    : dir_(std::move(dir)), enc_(std::move(enc)) {}
KnowledgeBases::~KnowledgeBases() = default;

KnowledgeBase& KnowledgeBases::open(const std::string& name) {
  const fs::path file = fs::path(dir_) / name / "kb.sqlite";
  std::error_code ec;
  auto it = open_.find(name);
  if (it != open_.end()) {
    if (fs::exists(file, ec) && data_version(*it->second.kb) == it->second.data_version) return *it->second.kb;
    open_.erase(it);  // changed by another process (or removed): open it again
  }
  KnowledgeBase::check_name(name);
  if (!fs::exists(file, ec))
    throw NoSuchBase(cat("no knowledge base '", name, "' in ", dir_, "; create it with: helix kb create ", name));
  auto kb = KnowledgeBase::open(dir_, name);
  if (enc_) kb->check_encoder(*enc_);
  Open& o = open_[name];
  o.data_version = data_version(*kb);
  o.kb = std::move(kb);
  return *o.kb;
}

std::string KnowledgeBases::resolve(const std::string& name) const {
  if (!name.empty()) return name;
  const auto names = KnowledgeBase::list(dir_);
  if (names.empty()) throw NoSuchBase(cat("there are no knowledge bases in ", dir_, "; make one with: helix kb create NAME"));
  if (names.size() > 1) {
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    throw Error(cat("there are several knowledge bases (", all, "): name one"));
  }
  return names[0];
}

SearchResult search(KnowledgeBases& bases, const SearchRequest& r, const EncoderRunner& run) {
  HELIX_CHECK(!r.query.empty(), "the query is empty: say what to look for");
  model::BertEncoder* enc = r.use_encoder ? bases.encoder() : nullptr;
  QueryOptions o;
  o.k = r.k;
  o.mode = parse_retrieval_mode(r.mode.empty() ? (enc ? "hybrid" : "bm25") : r.mode);
  HELIX_CHECK(o.mode == RetrievalMode::Bm25 || enc, "no embedding model is loaded, so only mode 'bm25' is available");
  SearchResult out;
  out.kb = bases.resolve(r.kb);
  std::lock_guard<std::mutex> lk(bases.mutex());
  KnowledgeBase& kb = bases.open(out.kb);
  auto work = [&] { out.hits = retrieve(kb, enc, r.query, o); };
  if (run && enc) run(work);
  else work();
  return out;
}

}  // namespace helix::knowledge

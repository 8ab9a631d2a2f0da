// The knowledge base store: schema, ingest of one file per transaction, documents, removal.
#include "knowledge/store.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "docs/document.h"
#include "knowledge/fts_text.h"
#include "model/bert.h"

namespace fs = std::filesystem;

namespace helix::knowledge {
namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs(id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE, title TEXT,
  format TEXT, sha256 TEXT NOT NULL, bytes INTEGER, pages INTEGER, added TEXT);
CREATE TABLE IF NOT EXISTS chunks(id INTEGER PRIMARY KEY AUTOINCREMENT,
  doc_id INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE, ord INTEGER NOT NULL, section TEXT, page INTEGER,
  char_begin INTEGER, char_end INTEGER, tokens INTEGER, text TEXT NOT NULL, embedding BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(body);
)";

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string join_path(const std::vector<std::string>& hp) {
  std::string s;
  for (const auto& h : hp) s += (s.empty() ? "" : " > ") + h;
  return s;
}

std::string kb_dir(const std::string& root, const std::string& name) { return (fs::path(root) / name).string(); }

// The text a chunk is embedded and indexed with: its section (or the document title) as context.
std::string with_context(const std::string& context, const std::string& text) {
  return context.empty() ? text : context + "\n" + text;
}

}  // namespace

const char* add_status_name(AddResult::Status s) {
  return s == AddResult::Added ? "added" : s == AddResult::Replaced ? "replaced" : "unchanged";
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HELIX_CHECK(EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr) == 1, "SHA-256 failed");
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) s += hex[md[i] >> 4], s += hex[md[i] & 15];
  return s;
}

void KnowledgeBase::check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 100 && name[0] != '.';
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  HELIX_CHECK(ok, "invalid knowledge base name '", name,
              "': use letters, digits, '-', '_' and '.' (not first), at most 100 characters");
}

void KnowledgeBase::create(const std::string& root, const std::string& name, const model::BertEncoder& enc,
                           const KbSettings& s) {
  check_name(name);
  const std::string dir = kb_dir(root, name);
  std::error_code ec;
  HELIX_CHECK(!fs::exists(fs::path(dir) / "kb.sqlite", ec), "knowledge base '", name, "' already exists in ", root);
  fs::create_directories(dir, ec);
  HELIX_CHECK(!ec, "cannot create ", dir, ": ", ec.message());
  Db db((fs::path(dir) / "kb.sqlite").string());
  Transaction tx(db);
  db.exec(kSchema);
  Stmt put(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
  const std::pair<const char*, std::string> rows[] = {
      {"format", "1"},
      {"embed_model", fs::path(enc.source()).filename().string()},
      {"embed_dim", std::to_string(enc.dim())},
      {"chunk_tokens", std::to_string(s.chunk_tokens)},
      {"overlap_tokens", std::to_string(s.overlap_tokens)},
      {"created", now_utc()}};
  for (const auto& [k, v] : rows) put.bind(1, std::string_view(k)).bind(2, v).run();
  tx.commit();
}

std::vector<std::string> KnowledgeBase::list(const std::string& root) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return names;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (fs::exists(e.path() / "kb.sqlite", ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

KnowledgeBase::KnowledgeBase(std::string dir, std::unique_ptr<Db> db, int dim)
    : dir_(std::move(dir)), db_(std::move(db)), vectors_((fs::path(dir_) / "vectors.hnsw").string(), dim) {}

std::unique_ptr<KnowledgeBase> KnowledgeBase::open(const std::string& root, const std::string& name) {
  check_name(name);
  const std::string dir = kb_dir(root, name);
  std::error_code ec;
  HELIX_CHECK(fs::exists(fs::path(dir) / "kb.sqlite", ec), "no knowledge base '", name, "' in ", root,
              "; create it with: helix kb create ", name);
  auto db = std::make_unique<Db>((fs::path(dir) / "kb.sqlite").string());
  Stmt dim_q(*db, "SELECT value FROM meta WHERE key = 'embed_dim'");
  HELIX_CHECK(dim_q.step(), dir, ": not a Helix knowledge base (no embed_dim in meta)");
  const int dim = std::stoi(dim_q.str(0));
  std::unique_ptr<KnowledgeBase> kb(new KnowledgeBase(dir, std::move(db), dim));
  kb->settings_.chunk_tokens = std::stoul(kb->meta("chunk_tokens"));
  kb->settings_.overlap_tokens = std::stoul(kb->meta("overlap_tokens"));
  // Bring the vector index in line with SQLite (after a kill between commit and index save).
  std::vector<int64_t> live;
  Stmt ids(kb->db(), "SELECT id FROM chunks");
  while (ids.step()) live.push_back(ids.i64(0));
  Stmt emb(kb->db(), "SELECT embedding FROM chunks WHERE id = ?");
  const bool tty = isatty(STDERR_FILENO) != 0;
  const size_t changed = kb->vectors_.sync(
      live,
      [&](int64_t id) {
        emb.bind(1, id);
        HELIX_CHECK(emb.step(), "chunk ", id, " vanished");
        std::vector<float> v = emb.floats(0);
        emb.reset();
        return v;
      },
      [&](size_t done, size_t total) {  // a (re)build of thousands of chunks takes a while: show it
        if (!tty || total < 5000) return;
        std::fprintf(stderr, "\r\033[Kbuilding the vector index of %s: %zu/%zu chunks", name.c_str(), done, total);
        if (done == total) std::fprintf(stderr, "\n");
      });
  if (changed) kb->vectors_.save();
  return kb;
}

std::string KnowledgeBase::meta(const std::string& key) {
  Stmt q(*db_, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  HELIX_CHECK(q.step(), dir_, ": meta key '", key, "' missing");
  return q.str(0);
}

void KnowledgeBase::check_encoder(const model::BertEncoder& enc) {
  const std::string want = meta("embed_dim");
  HELIX_CHECK(std::to_string(enc.dim()) == want, "the knowledge base was built with a ", want,
              "-dimensional embedding model (", meta("embed_model"), "); ", enc.source(), " gives ", enc.dim(),
              ": use the same model (-m / --embed-model)");
}

std::vector<int64_t> KnowledgeBase::chunk_ids(int64_t doc_id) {
  std::vector<int64_t> ids;
  Stmt q(*db_, "SELECT id FROM chunks WHERE doc_id = ?");
  q.bind(1, doc_id);
  while (q.step()) ids.push_back(q.i64(0));
  return ids;
}

AddResult KnowledgeBase::add_file(const std::string& path, model::BertEncoder& enc,
                                  const std::function<void(size_t, size_t)>& on_embed) {
  std::error_code ec;
  const std::string abs = fs::weakly_canonical(fs::absolute(path), ec).string();
  std::ifstream in(path, std::ios::binary);
  HELIX_CHECK(in, path, ": cannot open the file");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string sha = sha256_hex(data);
  AddResult r;
  int64_t old_id = 0;
  {
    Stmt q(*db_, "SELECT id, sha256 FROM docs WHERE path = ?");
    q.bind(1, abs);
    if (q.step()) {
      old_id = q.i64(0);
      if (q.str(1) == sha) {
        r.status = AddResult::Unchanged;
        r.doc_id = old_id;
        return r;
      }
    }
  }
  const docs::Document doc = docs::parse_data(data, path);
  docs::ChunkOptions co;
  co.max_tokens = settings_.chunk_tokens;
  co.overlap_tokens = settings_.overlap_tokens;
  co.count_tokens = [&](std::string_view s) { return enc.tokenizer().encode(s, false, false).size(); };
  const std::vector<docs::Chunk> chunks = docs::chunk_document(doc, co);
  HELIX_CHECK(!chunks.empty(), path, ": no text found (a scanned PDF needs OCR first, e.g. ocrmypdf)");

  // Embeddings first (the slow part), outside the transaction.
  std::vector<std::vector<int32_t>> seqs;
  std::vector<std::string> sections;
  for (const auto& c : chunks) {
    sections.push_back(join_path(c.heading_path));
    seqs.push_back(enc.tokenize(with_context(sections.back().empty() ? doc.title : sections.back(), c.text)));
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<float>> emb;
  const size_t batch = 32;
  for (size_t i = 0; i < seqs.size(); i += batch) {
    std::vector<std::vector<int32_t>> part(seqs.begin() + i, seqs.begin() + std::min(seqs.size(), i + batch));
    for (auto& e : enc.embed_tokens(part)) emb.push_back(std::move(e));
    if (on_embed) on_embed(emb.size(), seqs.size());
  }
  r.embed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::vector<int64_t> old_chunks = old_id ? chunk_ids(old_id) : std::vector<int64_t>{};
  std::vector<int64_t> new_chunks;
  Transaction tx(*db_);
  if (old_id) remove_rows(old_id);
  Stmt ins_doc(*db_, "INSERT INTO docs(path, title, format, sha256, bytes, pages, added) VALUES (?,?,?,?,?,?,?)");
  ins_doc.bind(1, abs).bind(2, doc.title).bind(3, doc.format).bind(4, sha);
  ins_doc.bind(5, static_cast<int64_t>(data.size())).bind(6, static_cast<int64_t>(doc.pages)).bind(7, now_utc()).run();
  r.doc_id = db_->last_insert_id();
  Stmt ins_chunk(*db_, "INSERT INTO chunks(doc_id, ord, section, page, char_begin, char_end, tokens, text, embedding) "
                       "VALUES (?,?,?,?,?,?,?,?,?)");
  Stmt ins_fts(*db_, "INSERT INTO chunks_fts(rowid, body) VALUES (?, ?)");
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    ins_chunk.bind(1, r.doc_id).bind(2, static_cast<int64_t>(i)).bind(3, sections[i]).bind(4, static_cast<int64_t>(c.page));
    ins_chunk.bind(5, static_cast<int64_t>(c.char_begin)).bind(6, static_cast<int64_t>(c.char_end));
    ins_chunk.bind(7, static_cast<int64_t>(c.tokens)).bind(8, c.text);
    ins_chunk.bind_blob(9, emb[i].data(), emb[i].size() * sizeof(float)).run();
    new_chunks.push_back(db_->last_insert_id());
    ins_fts.bind(1, new_chunks.back()).bind(2, fts_body(with_context(sections[i], c.text))).run();
  }
  tx.commit();
  for (int64_t id : old_chunks) vectors_.remove(id);
  for (size_t i = 0; i < new_chunks.size(); ++i) vectors_.add(new_chunks[i], emb[i]);
  r.status = old_id ? AddResult::Replaced : AddResult::Added;
  r.chunks = chunks.size();
  return r;
}

void KnowledgeBase::remove_rows(int64_t doc_id) {
  Stmt del_fts(*db_, "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?)");
  del_fts.bind(1, doc_id).run();
  Stmt del_chunks(*db_, "DELETE FROM chunks WHERE doc_id = ?");
  del_chunks.bind(1, doc_id).run();
  Stmt del_doc(*db_, "DELETE FROM docs WHERE id = ?");
  del_doc.bind(1, doc_id).run();
}

void KnowledgeBase::remove_doc(int64_t id) {
  const std::vector<int64_t> ids = chunk_ids(id);
  Transaction tx(*db_);
  remove_rows(id);
  tx.commit();
  for (int64_t c : ids) vectors_.remove(c);
}

std::vector<DocInfo> KnowledgeBase::prune_missing(const std::string& folder) {
  std::error_code ec;
  std::string prefix = fs::weakly_canonical(fs::absolute(folder), ec).string();
  if (prefix.empty() || prefix.back() != '/') prefix += '/';
  std::vector<DocInfo> gone;
  for (auto& d : docs())
    if (d.path.compare(0, prefix.size(), prefix) == 0 && !fs::exists(d.path, ec)) gone.push_back(std::move(d));
  for (const auto& d : gone) remove_doc(d.id);
  return gone;
}

std::vector<DocInfo> KnowledgeBase::docs() {
  std::vector<DocInfo> out;
  Stmt q(*db_, "SELECT d.id, d.path, d.title, d.format, d.sha256, d.bytes, d.pages, d.added, "
               "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id) FROM docs d ORDER BY d.path");
  while (q.step()) {
    DocInfo d;
    d.id = q.i64(0);
    d.path = q.str(1);
    d.title = q.str(2);
    d.format = q.str(3);
    d.sha256 = q.str(4);
    d.bytes = q.i64(5);
    d.pages = q.i64(6);
    d.added = q.str(7);
    d.chunks = q.i64(8);
    out.push_back(std::move(d));
  }
  return out;
}

DocInfo KnowledgeBase::find_doc(const std::string& key) {
  std::error_code ec;
  const std::string abs = fs::weakly_canonical(fs::absolute(key), ec).string();
  std::vector<DocInfo> match;
  for (auto& d : docs()) {
    if (std::to_string(d.id) == key || d.path == key || d.path == abs) return d;
    if (fs::path(d.path).filename().string() == key) match.push_back(d);
  }
  HELIX_CHECK(!match.empty(), "no document '", key, "' in ", dir_, "; see helix kb docs");
  HELIX_CHECK(match.size() == 1, "'", key, "' names ", match.size(), " documents; give the id or full path (helix kb docs)");
  return match[0];
}

int64_t KnowledgeBase::chunk_count() {
  Stmt q(*db_, "SELECT COUNT(*) FROM chunks");
  q.step();
  return q.i64(0);
}

}  // namespace helix::knowledge

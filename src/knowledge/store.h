// A knowledge base: a folder <root>/<name>/ holding kb.sqlite (documents, chunks with their
// embeddings, and an FTS5 index for BM25) and vectors.hnsw (the approximate vector index, a cache
// of the embeddings in SQLite). Each file is added in one SQLite transaction, identified by its
// absolute path and SHA-256: adding an unchanged file does nothing, a changed one replaces its
// chunks, and a process killed mid-ingest leaves every file either fully in or not in.
//
//   KnowledgeBase::create(root, "manuals", encoder);
//   auto kb = KnowledgeBase::open(root, "manuals");
//   kb->add_file("guide.pdf", encoder);  kb->save();
//   auto hits = kb->query("how do I reset", &encoder, {});
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "docs/chunker.h"
#include "knowledge/sqlite.h"
#include "knowledge/vector_index.h"

namespace helix::model {
class BertEncoder;
}

namespace helix::knowledge {

struct DocInfo {
  int64_t id = 0;
  std::string path, title, format, sha256, added;
  int64_t bytes = 0, pages = 0, chunks = 0;
};

struct AddResult {
  enum Status { Added, Replaced, Unchanged } status = Added;
  int64_t doc_id = 0;
  size_t chunks = 0;
  double embed_seconds = 0;
};
const char* add_status_name(AddResult::Status s);

// Chunking settings used for every document of a base (kept in its meta table).
struct KbSettings {
  size_t chunk_tokens = 200;
  size_t overlap_tokens = 32;
};

class KnowledgeBase {
 public:
  // Knowledge base names: letters, digits, '-', '_' and '.', not starting with '.'.
  static void check_name(const std::string& name);
  // Creates <root>/<name>; throws when it exists. Records the embedding model's name and size.
  static void create(const std::string& root, const std::string& name, const model::BertEncoder& enc,
                     const KbSettings& s = {});
  static std::vector<std::string> list(const std::string& root);
  // Opens an existing base (throws naming `kb create` when missing) and syncs its vector index.
  static std::unique_ptr<KnowledgeBase> open(const std::string& root, const std::string& name);

  // Adds or refreshes one file (see the file comment). Throws (leaving the base unchanged) when
  // the file cannot be parsed.
  // on_embed(done, total) reports embedding progress within the file.
  AddResult add_file(const std::string& path, model::BertEncoder& enc,
                     const std::function<void(size_t, size_t)>& on_embed = {});
  // The document with this id, absolute path, path as given or unique file name; throws when none
  // or several match.
  DocInfo find_doc(const std::string& key);
  void remove_doc(int64_t id);
  // Removes the documents whose files lay under `folder` and no longer exist there (deleted or
  // moved since they were added); returns them.
  std::vector<DocInfo> prune_missing(const std::string& folder);
  std::vector<DocInfo> docs();
  int64_t chunk_count();
  // Checks that the embedding model matches the one the base was built with.
  void check_encoder(const model::BertEncoder& enc);
  void save() { vectors_.save(); }

  Db& db() { return *db_; }
  VectorIndex& vectors() { return vectors_; }
  const std::string& dir() const { return dir_; }

 private:
  KnowledgeBase(std::string dir, std::unique_ptr<Db> db, int dim);
  std::string meta(const std::string& key);
  std::vector<int64_t> chunk_ids(int64_t doc_id);
  void remove_rows(int64_t doc_id);  // inside a transaction

  std::string dir_;
  std::unique_ptr<Db> db_;
  VectorIndex vectors_;
  KbSettings settings_;
};

// The SHA-256 of a file's bytes, as 64 hex digits.
std::string sha256_hex(const std::string& bytes);

}  // namespace helix::knowledge

// Knowledge bases for long-running callers — the server (/v1/kb, the chat "knowledge" field), the
// MCP kb_search tool and the kb plugin — and the one search they share. A base is opened once and
// reused until another process changes it (SQLite's data_version, e.g. `helix kb add` while the
// server runs): it is then opened again, so its vector index follows.
//
//   KnowledgeBases bases(dir, encoder);              // encoder may be null: BM25 only
//   SearchResult r = search(bases, {.kb = "manuals", .query = "reset the router"});
//   r.kb;  r.hits;                                   // the base searched, the passages best first
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "knowledge/retrieval.h"

namespace helix::model {
class BertEncoder;
}

namespace helix::knowledge {

class KnowledgeBase;

// Thrown when a named base does not exist (the server answers 404).
struct NoSuchBase : Error {
  using Error::Error;
};

class KnowledgeBases {
 public:
  // enc: the embedding model; each base opened is checked against it (may be null: BM25 only).
  KnowledgeBases(std::string dir, std::shared_ptr<model::BertEncoder> enc);
  ~KnowledgeBases();

  const std::string& dir() const { return dir_; }
  model::BertEncoder* encoder() const { return enc_.get(); }
  // Held around open() and every use of a base or of the encoder it returns.
  std::mutex& mutex() { return mu_; }
  // The base, opened or reused (see the file comment); throws NoSuchBase naming `helix kb create`,
  // or Error for a bad name or a base made with another embedding model. Call with mutex() held.
  KnowledgeBase& open(const std::string& name);
  // The name when given, else the folder's only base; throws naming the choices when there are
  // several, or how to make one when there is none.
  std::string resolve(const std::string& name) const;

 private:
  std::string dir_;
  std::shared_ptr<model::BertEncoder> enc_;
  std::mutex mu_;
  struct Open {
    std::unique_ptr<KnowledgeBase> kb;
    int64_t data_version = 0;
  };
  std::map<std::string, Open> open_;
};

struct SearchRequest {
  std::string kb;     // the base's name; empty: the folder's only base
  std::string query;
  size_t k = 5;
  std::string mode;   // "hybrid", "bm25", "vector"; empty: hybrid, or bm25 without an encoder
  bool use_encoder = true;  // false: BM25 only even when the bases have an encoder
};

struct SearchResult {
  std::string kb;
  std::vector<Hit> hits;
};

// Runs a piece of work that uses the encoder (the server runs it between engine steps, as the
// encoder shares the kernels' threads with generation); default: runs it here.
using EncoderRunner = std::function<void(const std::function<void()>&)>;

// Opens (or reuses) the base and retrieves. Throws Error for an empty query, an unknown mode, a
// vector mode without an encoder, and as open() and resolve() do.
SearchResult search(KnowledgeBases& bases, const SearchRequest& r, const EncoderRunner& run = {});

}  // namespace helix::knowledge

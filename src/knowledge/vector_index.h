// The approximate nearest-neighbour index over chunk embeddings: hnswlib (Debian libhnswlib-dev)
// with inner-product distance on L2-normalized vectors (= cosine similarity). Graph degree M and
// ef_construction are fixed per index file (an index built with other values is rebuilt from
// SQLite when opened); ef_search, the search's candidate list, is set per query. The values are
// measured in bench/reports/2026-12-03/kb_ann.md (recall@10 against exact search on 100k chunks). SQLite holds the
// embeddings and is the source of truth; the index file is a cache written atomically (temporary
// file + rename) and brought back in line with SQLite by sync() when it is opened, so a process
// killed between a SQLite commit and an index save leaves nothing inconsistent.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hnswlib {
template <typename T>
class HierarchicalNSW;
class InnerProductSpace;
}  // namespace hnswlib

namespace helix::knowledge {

struct HnswParams {
  size_t m = 32;                 // links per node (2 m on the bottom layer)
  size_t ef_construction = 200;  // candidate list while inserting
  size_t ef_search = 800;        // candidate list while searching (at least k is used)
};

class VectorIndex {
 public:
  VectorIndex(std::string path, int dim, HnswParams params = {});
  ~VectorIndex();

  // Loads the index file (or starts empty when it is missing or unreadable), then makes the
  // index hold exactly the chunk ids in `live`, fetching missing embeddings with `embedding`.
  // Rebuilds from scratch when deleted entries outnumber live ones. Returns the number of
  // entries added or removed. on_add(done, total) reports the additions (a rebuild of 100k chunks
  // takes minutes).
  size_t sync(const std::vector<int64_t>& live, const std::function<std::vector<float>(int64_t)>& embedding,
              const std::function<void(size_t, size_t)>& on_add = {});
  void add(int64_t id, const std::vector<float>& v);
  void remove(int64_t id);
  // The k nearest chunk ids with their cosine similarity, best first; ef: the search's candidate
  // list (0: params().ef_search; at least k is used).
  std::vector<std::pair<int64_t, float>> search(const std::vector<float>& q, size_t k, size_t ef = 0) const;
  void save();  // writes the file atomically when something changed
  size_t size() const;
  const HnswParams& params() const { return params_; }
  void set_ef_search(size_t ef) { params_.ef_search = ef; }

 private:
  void reset(size_t capacity);

  std::string path_;
  int dim_;
  HnswParams params_;
  std::unique_ptr<hnswlib::InnerProductSpace> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
  bool dirty_ = false;
};

}  // namespace helix::knowledge

// The approximate nearest-neighbour index over chunk embeddings: hnswlib (Debian libhnswlib-dev)
// with inner-product distance on L2-normalized vectors (= cosine similarity). SQLite holds the
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

class VectorIndex {
 public:
  VectorIndex(std::string path, int dim);
  ~VectorIndex();

  // Loads the index file (or starts empty when it is missing or unreadable), then makes the
  // index hold exactly the chunk ids in `live`, fetching missing embeddings with `embedding`.
  // Rebuilds from scratch when deleted entries outnumber live ones. Returns the number of
  // entries added or removed.
  size_t sync(const std::vector<int64_t>& live, const std::function<std::vector<float>(int64_t)>& embedding);
  void add(int64_t id, const std::vector<float>& v);
  void remove(int64_t id);
  // The k nearest chunk ids with their cosine similarity, best first.
  std::vector<std::pair<int64_t, float>> search(const std::vector<float>& q, size_t k) const;
  void save();  // writes the file atomically when something changed
  size_t size() const;

 private:
  void reset(size_t capacity);

  std::string path_;
  int dim_;
  std::unique_ptr<hnswlib::InnerProductSpace> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
  bool dirty_ = false;
};

}  // namespace helix::knowledge

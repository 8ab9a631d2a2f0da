// hnswlib vector index kept consistent with SQLite (see vector_index.h).
#include "knowledge/vector_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <unordered_set>

#include "core/error.h"
#include "core/files.h"

namespace helix::knowledge {

VectorIndex::VectorIndex(std::string path, int dim, HnswParams params)
    : path_(std::move(path)), dim_(dim), params_(params), space_(std::make_unique<hnswlib::InnerProductSpace>(dim)) {}

VectorIndex::~VectorIndex() = default;

void VectorIndex::reset(size_t capacity) {
  index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), std::max<size_t>(capacity, 1024), params_.m,
                                                              params_.ef_construction);
  dirty_ = true;
}

size_t VectorIndex::sync(const std::vector<int64_t>& live, const std::function<std::vector<float>(int64_t)>& embedding,
                         const std::function<void(size_t, size_t)>& on_add) {
  std::error_code ec;
  index_.reset();
  if (std::filesystem::exists(path_, ec)) {
    try {
      index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), path_);
      dirty_ = false;
      // hnswlib 0.6's loading constructor never initializes num_deleted_ (it only adds the deleted
      // entries to it): with the garbage left there, the deleted-count check below rebuilt the
      // whole index on most opens (minutes at 100k chunks) and size() was wrong. Count again.
      index_->num_deleted_ = 0;
      for (size_t i = 0; i < index_->cur_element_count; ++i)
        if (index_->isMarkedDeleted(static_cast<hnswlib::tableint>(i))) ++index_->num_deleted_;
      // Built with another graph degree or insertion list (an older Helix): rebuilt below.
      if (index_->M_ != params_.m || index_->ef_construction_ != std::max(params_.ef_construction, params_.m))
        index_.reset();
    } catch (const std::exception&) {
      index_.reset();  // unreadable: rebuilt from SQLite below
    }
  }
  const std::unordered_set<int64_t> want(live.begin(), live.end());
  if (index_ && index_->num_deleted_ > live.size()) index_.reset();
  if (!index_) reset(live.size() * 2);
  size_t changes = 0;
  std::vector<int64_t> stale;
  for (const auto& [label, internal] : index_->label_lookup_)
    if (!index_->isMarkedDeleted(internal) && !want.count(static_cast<int64_t>(label))) stale.push_back(static_cast<int64_t>(label));
  for (int64_t id : stale) remove(id), ++changes;
  std::vector<int64_t> missing;
  for (int64_t id : live) {
    const auto it = index_->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
    if (it == index_->label_lookup_.end() || index_->isMarkedDeleted(it->second)) missing.push_back(id);
  }
  for (size_t i = 0; i < missing.size(); ++i) {
    add(missing[i], embedding(missing[i]));
    if (on_add && (i % 1000 == 999 || i + 1 == missing.size())) on_add(i + 1, missing.size());
  }
  return changes + missing.size();
}

void VectorIndex::add(int64_t id, const std::vector<float>& v) {
  HELIX_CHECK(static_cast<int>(v.size()) == dim_, "embedding of chunk ", id, " has ", v.size(), " values, the index ",
              dim_);
  if (!index_) reset(1024);
  if (index_->cur_element_count >= index_->max_elements_) index_->resizeIndex(index_->max_elements_ * 2);
  index_->addPoint(v.data(), static_cast<hnswlib::labeltype>(id));
  dirty_ = true;
}

void VectorIndex::remove(int64_t id) {
  if (!index_) return;
  const auto it = index_->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
  if (it == index_->label_lookup_.end() || index_->isMarkedDeleted(it->second)) return;
  index_->markDelete(static_cast<hnswlib::labeltype>(id));
  dirty_ = true;
}

std::vector<std::pair<int64_t, float>> VectorIndex::search(const std::vector<float>& q, size_t k, size_t ef) const {
  std::vector<std::pair<int64_t, float>> out;
  if (!index_ || index_->cur_element_count == 0 || k == 0) return out;
  HELIX_CHECK(static_cast<int>(q.size()) == dim_, "query embedding has ", q.size(), " values, the index ", dim_);
  index_->setEf(std::max(k, ef ? ef : params_.ef_search));
  auto pq = index_->searchKnn(q.data(), k);
  while (!pq.empty()) {  // worst first; distance = 1 - inner product
    out.emplace_back(static_cast<int64_t>(pq.top().second), 1.0f - pq.top().first);
    pq.pop();
  }
  std::reverse(out.begin(), out.end());
  return out;
}

void VectorIndex::save() {
  if (!index_ || !dirty_) return;
  const std::string tmp = atomic_tmp_path(path_);
  index_->saveIndex(tmp);
  commit_file_atomic(tmp, path_, "vector index");
  dirty_ = false;
}

size_t VectorIndex::size() const { return index_ ? index_->cur_element_count - index_->num_deleted_ : 0; }

}  // namespace helix::knowledge

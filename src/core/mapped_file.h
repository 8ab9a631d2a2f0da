// A file mapped read-only into memory. Model weights are used in place from the mapping and
// never copied; the mapping lives as long as any tensor that points into it.
#pragma once

#include <string>

#include "core/tensor.h"

namespace helix {

class MappedFile final : public Storage {
 public:
  // Throws helix::Error naming the file and the reason when it cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile() override;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  void* data() override { return data_; }
  const uint8_t* bytes() const { return static_cast<const uint8_t*>(data_); }
  size_t size() const override { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Drops the whole pages inside [p, p + bytes) from this process's memory (madvise MADV_DONTNEED;
// the partial pages at either end are kept). The range stays mapped: a file mapping's pages fault
// back in from the page cache when read again, anonymous memory reads as zeros. The packers use it
// to give back a weight's pages once its packed copy exists.
void drop_pages(const void* p, size_t bytes);

}  // namespace helix

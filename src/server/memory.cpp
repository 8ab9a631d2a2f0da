// Allocator settings for serving (see memory.h).
#include "server/memory.h"

#include <malloc.h>

#include <mutex>

namespace helix::server {

void tune_allocator_for_serving() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    mallopt(M_ARENA_MAX, 4);
  });
}

ReleaseAfterRequest::~ReleaseAfterRequest() {
  if (large_) malloc_trim(0);
}

}  // namespace helix::server

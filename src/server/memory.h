// Giving memory back after large requests. glibc's malloc keeps what a request freed: each of
// the HTTP threads gets its own arena, and after the first large free the threshold above which
// a buffer is mapped on its own (and unmapped when freed) grows to that size, so the next large
// bodies land in arenas that are trimmed only from their top. A burst of large rejected
// requests then leaves gigabytes resident for good (issue 18: 637 MB -> 2,962 MB).
//
//   tune_allocator_for_serving();                 // once, before serving
//   ReleaseAfterRequest release(req.body.size()); // per request: trims after a large one
#pragma once

#include <cstddef>

namespace helix::server {

// A fixed mmap threshold (buffers of 256 KiB and more are mapped alone and unmapped on free)
// and a cap on the number of arenas. Idempotent.
void tune_allocator_for_serving();

// Returns free memory of every arena to the system (malloc_trim) when it goes out of scope, if
// the request was large (a body of 1 MiB or more). Cheap otherwise.
class ReleaseAfterRequest {
 public:
  explicit ReleaseAfterRequest(size_t body_bytes) : large_(body_bytes >= (1u << 20)) {}
  ~ReleaseAfterRequest();
  ReleaseAfterRequest(const ReleaseAfterRequest&) = delete;
  ReleaseAfterRequest& operator=(const ReleaseAfterRequest&) = delete;

 private:
  bool large_;
};

}  // namespace helix::server

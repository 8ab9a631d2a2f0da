// Finished partial results of a long job (a chunk's summary, a reduce step's output) kept on
// disk, so a run killed part-way (kill -9, power loss) starts again where it stopped. One folder
// per document set + settings + model (the job key); inside it one file per part, named by a
// hash of the exact prompt that produced it. A part is written to a temporary file, synced and
// renamed, so a part on disk is always complete.
//
//   PartCache cache(PartCache::default_root(), job_key({sha...}, "summary u=1500", model));
//   if (auto t = cache.get(key)) ... else cache.put(key, text);
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace helix::chatfile {

class PartCache {
 public:
  // An empty root disables the cache (get finds nothing, put keeps nothing).
  PartCache(const std::string& root, const std::string& job_key);
  std::optional<std::string> get(const std::string& part_key) const;
  void put(const std::string& part_key, const std::string& value) const;
  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }
  // $XDG_CACHE_HOME/helix/chatfile, else ~/.cache/helix/chatfile ("" when neither is known).
  static std::string default_root();

 private:
  std::string dir_;
};

// The hex SHA-256 of the parts joined with a separator (the job key, a part key).
std::string key_of(const std::vector<std::string>& parts);

}  // namespace helix::chatfile

#include "chatfile/cache.h"


#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "knowledge/store.h"

namespace helix::chatfile {

namespace fs = std::filesystem;

std::string key_of(const std::vector<std::string>& parts) {
  std::string all;
  for (const auto& p : parts) all += std::to_string(p.size()) + ":" + p + "\n";
  return knowledge::sha256_hex(all);
}

std::string PartCache::default_root() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/helix/chatfile";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/helix/chatfile";
  return "";
}

PartCache::PartCache(const std::string& root, const std::string& job_key) {
  if (root.empty()) return;
  dir_ = root + "/" + job_key.substr(0, 24);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  HELIX_CHECK(!ec, "cannot create the ChatFile cache folder ", dir_, ": ", ec.message(),
              " (set --cache DIR or --no-cache)");
}

std::optional<std::string> PartCache::get(const std::string& part_key) const {
  if (dir_.empty()) return std::nullopt;
  std::ifstream in(dir_ + "/" + part_key + ".part", std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void PartCache::put(const std::string& part_key, const std::string& value) const {
  if (dir_.empty()) return;
  write_file_atomic(dir_ + "/" + part_key + ".part", value, "ChatFile cache file");
}

}  // namespace helix::chatfile

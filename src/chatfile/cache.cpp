#include "chatfile/cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
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
  const std::string path = dir_ + "/" + part_key + ".part";
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  HELIX_CHECK(fd >= 0, "cannot write the ChatFile cache file ", tmp);
  size_t off = 0;
  while (off < value.size()) {
    const ssize_t n = ::write(fd, value.data() + off, value.size() - off);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(cat("cannot write the ChatFile cache file ", tmp, " (disk full?)"));
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  HELIX_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename ", tmp, " to ", path);
}

}  // namespace helix::chatfile

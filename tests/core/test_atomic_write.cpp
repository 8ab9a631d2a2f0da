// write_file_atomic / copy_file_atomic / commit_file_atomic / AtomicFile (core/files.h): the new
// content replaces the old in one rename, nothing is left behind on success or failure, errors
// name the file, and both the file and its folder are flushed to disk (fsync is interposed below
// to record what it flushed, then calls the C library's).
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/files.h"

namespace {

std::mutex g_mu;
std::vector<std::string> g_synced;  // what each fsync call flushed (the descriptor's path)

}  // namespace

// This binary's fsync: records the path, then calls the real one.
extern "C" int fsync(int fd) {
  char link[64], target[PATH_MAX];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, target, sizeof target - 1);
  {
    std::lock_guard<std::mutex> lk(g_mu);
    g_synced.emplace_back(n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string("?"));
  }
  using Fn = int (*)(int);
  static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "fsync"));
  return real ? real(fd) : 0;
}

namespace helix {
namespace {

namespace fs = std::filesystem;

struct AtomicWrite : ::testing::Test {
  fs::path dir;
  void SetUp() override {
    dir = fs::canonical(fs::temp_directory_path()) / cat("helix_atomic_", ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::lock_guard<std::mutex> lk(g_mu);
    g_synced.clear();
  }
  void TearDown() override { fs::remove_all(dir); }
  std::vector<std::string> synced() {
    std::lock_guard<std::mutex> lk(g_mu);
    return g_synced;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(AtomicWrite, ReplacesAndFlushesFileAndFolder) {
  const std::string p = (dir / "a.json").string();
  std::ofstream(p) << "old";
  write_file_atomic(p, "new content", "test file");
  EXPECT_EQ(read_file(p, "test file"), "new content");
  EXPECT_EQ(names(), std::vector<std::string>{"a.json"});  // no temporary file left
  const auto s = synced();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].rfind(p + ".tmp.", 0), 0u) << s[0];  // the file's bytes, before the rename
  EXPECT_EQ(s[1], dir.string());                     // then the folder, after it
}

TEST_F(AtomicWrite, FailureLeavesTheOldFileAndNoTemporary) {
  const std::string p = (dir / "a.txt").string();
  std::ofstream(p) << "old";
  {
    AtomicFile f(p, "test file");
    f.write("half of it");
  }  // destroyed without commit (an exception on the way)
  EXPECT_EQ(read_file(p, "test file"), "old");
  EXPECT_EQ(names(), std::vector<std::string>{"a.txt"});
  try {
    write_file_atomic((dir / "missing" / "b.txt").string(), "x", "results file");
    FAIL() << "no error for a missing folder";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cannot write the results file"), std::string::npos) << m;
    EXPECT_NE(m.find("missing/b.txt"), std::string::npos) << m;
  }
  fs::create_directories(dir / "d");  // a folder where the file should go: the rename fails
  EXPECT_THROW(write_file_atomic((dir / "d").string(), "x", "test file"), Error);
  EXPECT_EQ(names(), (std::vector<std::string>{"a.txt", "d"}));
}

TEST_F(AtomicWrite, CopyAndCommit) {
  std::string big(300000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + 3);
  const std::string src = (dir / "src.bin").string(), dst = (dir / "dst.bin").string();
  std::ofstream(src, std::ios::binary) << big;
  copy_file_atomic(src, dst, "adapter");
  EXPECT_EQ(read_file(dst, "adapter"), big);
  EXPECT_EQ(synced().back(), dir.string());

  const std::string tmp = atomic_tmp_path((dir / "idx.bin").string());
  EXPECT_NE(tmp, atomic_tmp_path((dir / "idx.bin").string()));  // fresh names each call
  std::ofstream(tmp, std::ios::binary) << "index";
  commit_file_atomic(tmp, (dir / "idx.bin").string(), "vector index");
  EXPECT_EQ(read_file((dir / "idx.bin").string(), "vector index"), "index");
  EXPECT_FALSE(fs::exists(tmp));
  const auto s = synced();
  ASSERT_GE(s.size(), 2u);
  EXPECT_EQ(s[s.size() - 2], tmp);
  EXPECT_THROW(copy_file_atomic((dir / "nope").string(), dst, "adapter"), Error);
  EXPECT_EQ(read_file(dst, "adapter"), big);
}

}  // namespace
}  // namespace helix

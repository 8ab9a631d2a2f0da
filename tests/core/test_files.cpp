// read_file / open_regular_file / MappedFile refuse FIFOs, directories and devices at once
// instead of blocking in open() (issue 18: `mkfifo f.gguf; helix inspect f.gguf` hung forever).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <string>

#include "core/error.h"
#include "core/files.h"
#include "core/mapped_file.h"

namespace helix {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() / cat("helix_files_", ::getpid());
  fs::create_directories(d);
  return d;
}

// Runs fn on another thread; if it has not finished after 10 s, opens the FIFO for writing (which
// releases a reader blocked in open) and fails. Returns the error message fn threw ("" if none).
std::string within_10s(const std::function<void()>& fn, const fs::path& fifo) {
  auto f = std::async(std::launch::async, [&]() -> std::string {
    try {
      fn();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  });
  if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (w >= 0) ::close(w);
    ADD_FAILURE() << "blocked on the FIFO " << fifo;
  }
  return f.get();
}

TEST(Files, FifoIsRefusedWithoutBlocking) {
  const fs::path fifo = temp_dir() / "model.gguf";
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string a = within_10s([&] { read_file(fifo.string(), "prompt file"); }, fifo);
  EXPECT_NE(a.find("named pipe (FIFO)"), std::string::npos) << a;
  EXPECT_NE(a.find("prompt file"), std::string::npos) << a;
  const std::string b = within_10s([&] { MappedFile m(fifo.string()); }, fifo);
  EXPECT_NE(b.find("named pipe (FIFO)"), std::string::npos) << b;
  fs::remove(fifo);
}

TEST(Files, DirectoryMissingAndRegular) {
  const fs::path d = temp_dir();
  try {
    read_file(d.string(), "template");
    ADD_FAILURE() << "read a directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a directory"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_file((d / "missing").string(), "template"), Error);
  const fs::path f = d / "ok.txt";
  std::ofstream(f) << "hello\n";
  EXPECT_EQ(read_file(f.string(), "template"), "hello\n");
  MappedFile m(f.string());
  EXPECT_EQ(m.size(), 6u);
  fs::remove_all(d);
}

// drop_pages gives back the whole pages inside the range only: anonymous memory reads as zeros
// there and keeps its bytes in the partial pages at both ends; a file mapping reads its file again.
TEST(Files, DropPagesDropsWholePagesOnly) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* m = ::mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  auto* b = static_cast<uint8_t*>(m);
  std::memset(b, 0xAB, 4 * page);
  drop_pages(b + 100, 3 * page);  // whole pages: 1 and 2; page 0 and 3 are partial
  for (size_t i : {size_t{0}, size_t{99}, size_t{100}, page - 1, 3 * page, 4 * page - 1}) EXPECT_EQ(b[i], 0xAB) << i;
  for (size_t i : {page, 2 * page - 1, 2 * page, 3 * page - 1}) EXPECT_EQ(b[i], 0) << i;
  drop_pages(b, page - 1);  // no whole page: nothing happens
  EXPECT_EQ(b[0], 0xAB);
  ::munmap(m, 4 * page);

  const fs::path f = temp_dir() / "pages.bin";
  std::string text(3 * page, 'x');
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>('a' + i % 26);
  std::ofstream(f, std::ios::binary) << text;
  MappedFile mf(f.string());
  drop_pages(mf.bytes(), mf.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(mf.bytes()), mf.size()), text);
  fs::remove_all(f.parent_path());
}

}  // namespace
}  // namespace helix

// Non-blocking, type-checked file reading (see files.h).
#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace helix {

std::string file_kind(unsigned mode) {
  if (S_ISREG(mode)) return "";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

namespace {

[[noreturn]] void not_regular(const std::string& path, std::string_view what, unsigned mode) {
  throw Error(cat("cannot read the ", what, " '", path, "': it is ", file_kind(mode),
                  ", not a regular file; give the path of a regular file"));
}

}  // namespace

int open_regular_file(const std::string& path, std::string_view what, size_t* size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(cat("cannot read the ", what, " '", path, "': ", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) not_regular(path, what, st.st_mode);
  // O_NONBLOCK: should the name have become a FIFO since the stat, open still returns at once.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(cat("cannot read the ", what, " '", path, "': ", std::strerror(errno)));
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const unsigned mode = st.st_mode;
    ::close(fd);
    not_regular(path, what, mode);
  }
  // Back to blocking reads (a regular file never blocks on them anyway).
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  *size = static_cast<size_t>(st.st_size);
  return fd;
}

std::string read_file(const std::string& path, std::string_view what) {
  size_t size = 0;
  const int fd = open_regular_file(path, what, &size);
  std::string out;
  out.reserve(size);
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(cat("cannot read the ", what, " '", path, "': ", std::strerror(err)));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

namespace {

[[noreturn]] void write_error(std::string_view what, const std::string& path, std::string_view doing, int err) {
  throw Error(cat("cannot write the ", what, " '", path, "': ", doing, ": ", std::strerror(err)));
}

// fsync of the folder that holds `path`, so that a rename into it survives a crash. Filesystems
// that cannot sync a folder (EINVAL) are accepted.
void sync_parent_dir(const std::string& path, std::string_view what) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) write_error(what, path, "opening its folder to flush the rename", errno);
  if (::fsync(dfd) != 0 && errno != EINVAL) {
    const int err = errno;
    ::close(dfd);
    write_error(what, path, "flushing its folder", err);
  }
  ::close(dfd);
}

void rename_over(const std::string& tmp, const std::string& path, std::string_view what) {
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    write_error(what, path, cat("renaming '", tmp, "' over it"), err);
  }
  sync_parent_dir(path, what);
}

}  // namespace

std::string atomic_tmp_path(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return cat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
}

AtomicFile::AtomicFile(std::string path, std::string_view what)
    : path_(std::move(path)), tmp_(atomic_tmp_path(path_)), what_(what) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) write_error(what_, path_, cat("creating '", tmp_, "' (does the folder exist?)"), errno);
}

AtomicFile::~AtomicFile() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(tmp_.c_str());
}

void AtomicFile::write(std::string_view data) {
  HELIX_CHECK(fd_ >= 0, "AtomicFile::write after commit");
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) write_error(what_, path_, cat("writing '", tmp_, "' (disk full?)"), n < 0 ? errno : ENOSPC);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void AtomicFile::commit() {
  HELIX_CHECK(fd_ >= 0, "AtomicFile::commit twice");
  if (::fsync(fd_) != 0) write_error(what_, path_, cat("flushing '", tmp_, "' to disk"), errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    write_error(what_, path_, cat("closing '", tmp_, "'"), err);
  }
  rename_over(tmp_, path_, what_);
}

void write_file_atomic(const std::string& path, std::string_view data, std::string_view what) {
  AtomicFile f(path, what);
  f.write(data);
  f.commit();
}

void copy_file_atomic(const std::string& from, const std::string& to, std::string_view what) {
  size_t size = 0;
  const int in = open_regular_file(from, what, &size);
  try {
    AtomicFile f(to, what);
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(in, buf, sizeof buf);
      if (n == 0) break;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(cat("cannot read the ", what, " '", from, "': ", std::strerror(errno)));
      f.write(std::string_view(buf, static_cast<size_t>(n)));
    }
    f.commit();
  } catch (...) {
    ::close(in);
    throw;
  }
  ::close(in);
}

void commit_file_atomic(const std::string& tmp, const std::string& path, std::string_view what) {
  const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    write_error(what, path, cat("opening '", tmp, "'"), err);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    write_error(what, path, cat("flushing '", tmp, "' to disk"), err);
  }
  ::close(fd);
  rename_over(tmp, path, what);
}

}  // namespace helix

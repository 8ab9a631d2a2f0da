// Non-blocking, type-checked file reading (see files.h).
#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

}  // namespace helix

// Reading files without ever blocking on them: every path the CLI and the server read (models,
// templates, prompts, messages, schemas, API keys) is checked with stat() before it is opened,
// and opened with O_NONBLOCK, so a named pipe (FIFO), a directory or a device given by mistake
// gets a clear error instead of a process that waits forever for a writer.
//
//   std::string text = helix::read_file(path, "prompt file");   // "cannot read the prompt file ..."
//   size_t size; int fd = helix::open_regular_file(path, "model", &size);
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace helix {

// Opens `path` read-only when it is a regular file (links followed) and returns the descriptor
// (the caller closes it) with the file's size in *size. Throws helix::Error naming `what`, the
// path and the reason otherwise: missing, unreadable, or a directory, FIFO, socket or device.
int open_regular_file(const std::string& path, std::string_view what, size_t* size);

// The whole content of a regular file (see open_regular_file for what is refused).
std::string read_file(const std::string& path, std::string_view what);

// "a directory", "a named pipe (FIFO)", ... for a st_mode that is not a regular file ("" if it is).
std::string file_kind(unsigned mode);

// ---- Writing files atomically -----------------------------------------------------------------
// A reader, a kill or a power cut sees the old content of PATH or the new one, never a part: the
// bytes go to a temporary file beside it (PATH.tmp.PID.N), which is flushed to disk (fsync),
// renamed over PATH, and then the folder is flushed too, so that the rename itself is durable.
// Errors throw helix::Error naming `what`, the path and the reason; the temporary file is removed.
//
//   helix::write_file_atomic(work + "/results.json", j.dump(2), "results file");

void write_file_atomic(const std::string& path, std::string_view data, std::string_view what);
// Copies the regular file `from` to `to` the same way.
void copy_file_atomic(const std::string& from, const std::string& to, std::string_view what);
// Publishes `tmp`, a complete file something else wrote (a library's save(path)), as `path`: fsync
// of tmp, rename, fsync of the folder. Removes tmp when that fails.
void commit_file_atomic(const std::string& tmp, const std::string& path, std::string_view what);
// A fresh name for the temporary file of `path` (PATH.tmp.PID.N), unique in this process.
std::string atomic_tmp_path(const std::string& path);

// For writers that stream: write to fd(), then commit(). Destroyed without commit() (an
// exception), it closes and removes its temporary file.
class AtomicFile {
 public:
  AtomicFile(std::string path, std::string_view what);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  int fd() const { return fd_; }
  const std::string& tmp_path() const { return tmp_; }
  void write(std::string_view data);  // all of it (retries short writes; throws on an error)
  void commit();                      // fsync, close, rename over the path, fsync of the folder

 private:
  std::string path_, tmp_, what_;
  int fd_ = -1;
};

}  // namespace helix

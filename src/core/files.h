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

}  // namespace helix

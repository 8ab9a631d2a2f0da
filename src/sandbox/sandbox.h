// A sandboxed Python 3 runner (the system interpreter, /usr/bin/python3) for the code-runner tool
// (the `python` built-in plugin, plugins/python_tool.h).
//
//   sandbox::Limits l;                       // CPU, wall clock, memory, files, processes, output
//   sandbox::Result r = sandbox::run_python("print(2 ** 100)", l);
//   if (!r.ok()) report(r.error);            // a clear sentence: what was stopped and why
//
// Layers, each applied where the kernel permits (`notes` says what was refused and what the code
// runs without; Limits::require_isolation refuses to run instead):
//   - a fork into new user, mount, network, PID, IPC and UTS namespaces (as root, first dropping
//     to nobody); the network namespace has no interface, so nothing can be reached;
//   - a new root (pivot_root): a read-only tmpfs holding /usr bound read-only (the interpreter and
//     its libraries), /dev/null, /dev/zero, /dev/urandom and a small writable tmpfs at /tmp (the
//     scratch directory, the working directory): no /etc, /home, /root, /proc or other host files;
//   - rlimits: CPU seconds, address space, file size, processes, open files, no core dumps;
//   - a seccomp filter (libseccomp): no sockets, no new processes (threads are allowed), no new
//     sessions, no ptrace, mount, namespace, keyring, BPF, io_uring or module calls; refused calls
//     fail with EPERM; other architectures' system calls kill the process;
//   - a wall-clock deadline and an output cap, past which the whole process tree is killed;
//   - no file descriptor of the caller (server sockets, files) reaches the code: only 0, 1, 2.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace helix::sandbox {

struct Limits {
  int cpu_s = 5;                        // CPU seconds (RLIMIT_CPU)
  double wall_s = 10;                   // wall clock
  size_t memory_bytes = 256u << 20;     // address space (RLIMIT_AS)
  size_t file_bytes = 1u << 20;         // largest file written (RLIMIT_FSIZE)
  size_t scratch_bytes = 16u << 20;     // size of the writable /tmp
  int processes = 16;                   // processes and threads (RLIMIT_NPROC, per sandbox)
  size_t output_bytes = 64u << 10;      // stdout + stderr; more kills the code
  bool require_isolation = false;       // refuse to run when a namespace or the private root is refused
};

struct Result {
  int exit_code = -1;        // the interpreter's exit status (-1: killed by a signal or not run)
  int signal = 0;            // the signal that ended it, or 0
  std::string out, err;      // stdout, stderr (together at most output_bytes)
  bool timed_out = false;    // the wall-clock limit was reached
  bool cpu_limit = false;    // the CPU limit was reached
  bool memory_limit = false; // an allocation failed at the memory limit
  bool file_limit = false;   // a file grew past file_bytes, or /tmp filled up
  bool output_limit = false; // more than output_bytes was printed
  double cpu_seconds = 0, wall_seconds = 0;
  std::string error;               // empty when the code ran to a zero exit; else what happened
  std::vector<std::string> notes;  // isolation the kernel refused (the run went on without it)
  bool ok() const { return error.empty(); }
};

// The largest program accepted (it is passed on the command line).
constexpr size_t kMaxCodeBytes = 100000;

// Runs `code` with `python3 -I -S -u` in the sandbox, as the module __main__ (tracebacks name it
// "<code>"); as in the interactive interpreter, the repr of a final expression statement is printed
// unless it is None. `stdin_text` is its standard input.
// Throws helix::Error for bad limits or when the sandbox cannot be set up at all (no python3, no
// fork); everything that happens to the code itself is in the Result.
Result run_python(const std::string& code, const Limits& limits, const std::string& stdin_text = "");

}  // namespace helix::sandbox

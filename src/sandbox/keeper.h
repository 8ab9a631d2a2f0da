// The sandbox's child side (keeper.cpp): the process forked by run_python ("the keeper") enters
// the namespaces, builds the private root, then forks the interpreter and reports how it ended.
// Internal to src/sandbox.
//
// The keeper reports on its status pipe, one line each:
//   "N <text>"          isolation the kernel refused (a sentence for Result::notes)
//   "X"                 not run: isolation refused and Limits::require_isolation set
//   "P <pid>"           the interpreter's pid (in the caller's PID namespace)
//   "S <status> <ms>"   the interpreter's wait status and CPU milliseconds (user + system)
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace helix::sandbox {

// Everything the keeper needs, prepared before fork: the caller may be multi-threaded, so the
// keeper makes system calls only (no allocation, no locks).
struct Plan {
  const std::vector<sock_filter>* filter = nullptr;
  std::string uid_map, gid_map;   // "1000 <outer id> 1\n"
  std::string scratch_options;    // tmpfs options of /tmp ("size=...,mode=1777")
  std::vector<char*> argv, envp;
  Limits limits;
  bool drop_to_nobody = false;    // started as root: become nobody first
  pid_t parent = 0;
};

// The seccomp filter as a classic BPF program (built once with libseccomp).
const std::vector<sock_filter>& seccomp_program();

// The keeper: fds are the interpreter's stdin, stdout, stderr and the status pipe. Never returns.
[[noreturn]] void run_keeper(const Plan& p, int in, int out, int err, int status);

}  // namespace helix::sandbox

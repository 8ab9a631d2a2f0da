// The sandboxed Python runner's caller side (see sandbox.h): prepares the keeper's plan, forks it
// (keeper.cpp does the isolation), collects the output under the deadline and the output cap,
// and says what happened in a sentence.
#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "sandbox/keeper.h"

namespace helix::sandbox {

namespace {

constexpr const char* kPython = "/usr/bin/python3";

using Clock = std::chrono::steady_clock;

// Runs the code (sys.argv[1]) as the module __main__ and, as the interactive interpreter does,
// prints the repr of a final expression statement unless it is None (models often end with
// `2**10` rather than print(2**10)). Tracebacks show the code's frames only, in "<code>".
char kDriver[] = R"py(import ast, builtins, sys
src = sys.argv.pop(1)
def fail(e, tb):
    import traceback
    traceback.print_exception(type(e), e, tb)
    sys.exit(1)
try:
    tree = ast.parse(src, "<code>")
except (SyntaxError, ValueError) as e:
    fail(e, None)
last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
main = type(sys)("__main__")
main.__builtins__ = builtins
sys.modules["__main__"] = main
try:
    exec(compile(tree, "<code>", "exec"), main.__dict__)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), "<code>", "eval"), main.__dict__)
        if value is not None:
            print(repr(value))
except SystemExit:
    raise
except BaseException as e:
    fail(e, e.__traceback__.tb_next)
)py";

// The code's standard input as a sealed memory file (no pipe to feed, no SIGPIPE).
int stdin_file(const std::string& text) {
  const int fd = memfd_create("helix-sandbox-stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  HELIX_CHECK(fd >= 0, "sandbox: memfd_create failed: ", std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = write(fd, text.data() + done, text.size() - done);
    if (w <= 0) {
      close(fd);
      throw Error(cat("sandbox: cannot hold the standard input: ", std::strerror(errno)));
    }
    done += static_cast<size_t>(w);
  }
  lseek(fd, 0, SEEK_SET);
  fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  return fd;
}

struct Run {
  pid_t keeper = 0;
  pid_t code = 0;      // the interpreter, once the keeper has said ("P <pid>")
  bool ended = false;  // the keeper reported the interpreter's end ("S ...")
  std::string status;  // the keeper's status lines
  void kill_all() const {
    kill(-keeper, SIGKILL);
    if (code > 0 && !ended) kill(code, SIGKILL);
  }
  void read_status() {
    for (size_t at = 0; at < status.size();) {
      const size_t nl = status.find('\n', at);
      if (nl == std::string::npos) break;
      if (status.compare(at, 2, "P ") == 0) code = static_cast<pid_t>(std::atol(status.c_str() + at + 2));
      if (status.compare(at, 2, "S ") == 0) ended = true;
      at = nl + 1;
    }
  }
};

// Reads stdout, stderr and the status pipe until they close; past the deadline or the output cap
// the keeper's process group and the interpreter are killed.
void collect(Run& run, int out, int err, int status, const Limits& l, Result& r) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(l.wall_s);
  int fds[3] = {out, err, status};
  while (fds[0] >= 0 || fds[1] >= 0 || fds[2] >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      r.timed_out = true;
      run.kill_all();
      break;
    }
    pollfd p[3];
    int n = 0;
    for (int fd : fds)
      if (fd >= 0) p[n++] = {fd, POLLIN, 0};
    if (poll(p, static_cast<nfds_t>(n), static_cast<int>(std::min<long long>(left, 1000))) < 0 && errno != EINTR) break;
    for (int k = 0; k < n; ++k) {
      if (!p[k].revents) continue;
      const int i = static_cast<int>(std::find(fds, fds + 3, p[k].fd) - fds);
      char buf[16384];
      const ssize_t got = read(fds[i], buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        close(fds[i]), fds[i] = -1;
        continue;
      }
      if (i == 2) {
        run.status.append(buf, static_cast<size_t>(got));
        run.read_status();
        continue;
      }
      std::string& dst = i == 0 ? r.out : r.err;
      const size_t room = l.output_bytes - std::min(l.output_bytes, r.out.size() + r.err.size());
      dst.append(buf, std::min(room, static_cast<size_t>(got)));
      if (static_cast<size_t>(got) > room && !r.output_limit) {
        r.output_limit = true;
        run.kill_all();
      }
    }
  }
  for (int fd : fds)
    if (fd >= 0) close(fd);
}

std::string last_line(const std::string& s) {
  const size_t end = s.find_last_not_of(" \n\r\t");
  if (end == std::string::npos) return "";
  const size_t nl = s.rfind('\n', end);
  const size_t start = nl == std::string::npos ? 0 : nl + 1;
  return s.substr(start, end + 1 - start);
}

bool has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// Why a run that exited with a non-zero status failed: the sandbox's refusals get a hint.
void explain_exit(const Limits& l, Result& r) {
  const std::string last = last_line(r.err);
  const std::string head = cat("the code exited with status ", r.exit_code, last.empty() ? "" : ": ", last);
  if (has(last, "MemoryError") || has(r.err, "Cannot allocate memory")) {
    r.memory_limit = true;
    r.error = cat("stopped: the code needed more than ", l.memory_bytes >> 20, " MiB of memory (the memory limit): ", last);
  } else if (has(last, "can't start new thread")) {
    r.error = cat("stopped: the code started more than ", l.processes, " threads (the process limit): ", last);
  } else if (has(last, "File too large")) {
    r.file_limit = true;
    r.error = cat("stopped: the code wrote a file larger than ", l.file_bytes, " bytes (the file size limit): ", last);
  } else if (has(last, "No space left on device")) {
    r.file_limit = true;
    r.error = cat("stopped: the scratch directory /tmp is full (", l.scratch_bytes >> 20, " MiB): ", last);
  } else if (has(last, "Read-only file system")) {
    r.error = cat(head, " (the sandbox: only /tmp is writable)");
  } else if (has(last, "Operation not permitted") || has(last, "PermissionError")) {
    r.error = cat(head, " (refused by the sandbox: no network, no new processes, no host files)");
  } else if (has(last, "name resolution") || has(last, "URLError") || has(last, "gaierror") ||
             has(last, "Name or service not known") || has(last, "Network is unreachable")) {
    r.error = cat(head, " (the sandbox has no network)");
  } else if (has(last, "FileNotFoundError") && (has(last, "'/") || has(last, "\"/"))) {
    r.error = cat(head, " (the sandbox shows no host files: only /usr, read-only, and the scratch directory /tmp)");
  } else {
    r.error = head;
  }
}

// The notes and the interpreter's end, from the keeper's status lines; then what to tell the user.
void judge(const std::string& status, const Limits& l, Result& r) {
  int st = -1;
  long cpu_ms = 0;
  bool refused = false;
  for (size_t at = 0; at < status.size();) {
    size_t nl = status.find('\n', at);
    if (nl == std::string::npos) nl = status.size();
    const std::string line = status.substr(at, nl - at);
    if (line.rfind("N ", 0) == 0) r.notes.push_back(line.substr(2));
    else if (line == "X") refused = true;
    else if (line.rfind("S ", 0) == 0) std::sscanf(line.c_str() + 2, "%d %ld", &st, &cpu_ms);
    at = nl + 1;
  }
  r.cpu_seconds = static_cast<double>(cpu_ms) / 1000;
  if (refused) {
    std::string why;
    for (const auto& n : r.notes) why += (why.empty() ? "" : "; ") + n;
    r.error = cat("the code was not run: this machine does not give the sandbox its full isolation (", why,
                  ") and require_isolation is set");
    return;
  }
  if (r.timed_out) {
    r.error = cat("stopped: still running after ", l.wall_s, " s (the wall-clock limit)");
    return;
  }
  if (r.output_limit) {
    r.error = cat("stopped: the code printed more than ", l.output_bytes, " bytes (the output limit); the first ",
                  l.output_bytes, " are kept");
    return;
  }
  if (st == -1) {
    r.error = r.notes.empty() ? std::string("the sandbox failed before the code ran") : r.notes.back();
    return;
  }
  if (WIFSIGNALED(st)) {
    r.signal = WTERMSIG(st);
    // RLIMIT_CPU kills with SIGKILL (SIGXCPU without a PID namespace). The rusage the keeper reads
    // runs 5-10% below the clock the limit is checked against (measured: 0.90-0.95 s at a 1 s
    // limit), hence the wide margin; the caller's own kills (deadline, output) are judged above.
    if (r.signal == SIGXCPU || (r.signal == SIGKILL && cpu_ms >= l.cpu_s * 500L)) {
      r.cpu_limit = true;
      r.error = cat("stopped: the code used more than ", l.cpu_s, " s of CPU time (the CPU limit)");
    } else if (r.signal == SIGXFSZ) {
      r.file_limit = true;
      r.error = cat("stopped: the code wrote a file larger than ", l.file_bytes, " bytes (the file size limit)");
    } else {
      r.error = cat("the interpreter was killed by signal ", r.signal, " (", strsignal(r.signal), ")");
    }
    return;
  }
  r.exit_code = WEXITSTATUS(st);
  if (r.exit_code != 0) explain_exit(l, r);
}

void check_limits(const std::string& code, const Limits& l) {
  HELIX_CHECK(l.cpu_s >= 1 && l.cpu_s <= 3600, "sandbox: the CPU limit must be 1 to 3600 s, not ", l.cpu_s);
  HELIX_CHECK(l.wall_s > 0 && l.wall_s <= 3600, "sandbox: the wall-clock limit must be in (0, 3600] s, not ", l.wall_s);
  HELIX_CHECK(l.memory_bytes >= (32u << 20), "sandbox: the memory limit must be at least 32 MiB (the interpreter needs ",
              "about 20), not ", l.memory_bytes >> 20, " MiB");
  HELIX_CHECK(l.processes >= 1 && l.processes <= 4096, "sandbox: the process limit must be 1 to 4096, not ", l.processes);
  HELIX_CHECK(l.output_bytes >= 1 && l.file_bytes >= 1 && l.scratch_bytes >= 4096,
              "sandbox: the output and file limits must be positive and the scratch directory at least 4 KiB");
  HELIX_CHECK(code.size() <= kMaxCodeBytes, "the code is ", code.size(), " bytes; the sandbox takes at most ",
              kMaxCodeBytes);
  HELIX_CHECK(code.find('\0') == std::string::npos, "the code contains a NUL byte");
  HELIX_CHECK(access(kPython, X_OK) == 0, "the code runner needs the system Python at ", kPython,
              " (Debian package python3)");
}

}  // namespace

Result run_python(const std::string& code, const Limits& limits, const std::string& stdin_text) {
  check_limits(code, limits);
  const auto start = Clock::now();
  Plan p;
  p.filter = &seccomp_program();
  p.limits = limits;
  p.drop_to_nobody = geteuid() == 0;
  p.parent = getpid();
  p.uid_map = cat("1000 ", p.drop_to_nobody ? 65534u : geteuid(), " 1\n");
  p.gid_map = cat("1000 ", p.drop_to_nobody ? 65534u : getegid(), " 1\n");
  p.scratch_options = cat("size=", limits.scratch_bytes, ",mode=1777");
  static char a0[] = "/usr/bin/python3", a1[] = "-I", a2[] = "-S", a3[] = "-u", a4[] = "-c";
  std::string code_copy = code;
  p.argv = {a0, a1, a2, a3, a4, kDriver, code_copy.data(), nullptr};
  static char e0[] = "PATH=/usr/bin:/bin", e1[] = "HOME=/tmp", e2[] = "TMPDIR=/tmp", e3[] = "LANG=C.UTF-8",
              e4[] = "MALLOC_ARENA_MAX=2";
  p.envp = {e0, e1, e2, e3, e4, nullptr};

  const int in = stdin_file(stdin_text);
  int out[2], err[2], status[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(status, O_CLOEXEC) != 0) {
    close(in);
    throw Error(cat("sandbox: pipe failed: ", std::strerror(errno)));
  }
  Run run;
  run.keeper = fork();
  if (run.keeper == 0) run_keeper(p, in, out[1], err[1], status[1]);
  for (int fd : {in, out[1], err[1], status[1]}) close(fd);
  if (run.keeper < 0) {
    for (int fd : {out[0], err[0], status[0]}) close(fd);
    throw Error(cat("sandbox: fork failed: ", std::strerror(errno)));
  }
  Result r;
  collect(run, out[0], err[0], status[0], limits, r);
  run.kill_all();  // nothing of the run outlives it
  int st = 0;
  while (waitpid(run.keeper, &st, 0) < 0 && errno == EINTR) {
  }
  judge(run.status, limits, r);
  r.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

}  // namespace helix::sandbox

// What the sandbox costs per run (src/sandbox): sandbox::run_python on a small program next to
// the peer, the same interpreter started plainly (posix_spawn of /usr/bin/python3 -I -S -u -c,
// stdout to a pipe, waitpid), interleaved in the same run. Reported per run: the median wall time
// and the median CPU time of the processes started (user + system, RUSAGE_CHILDREN: the keeper and
// the interpreter), and the ratio sandboxed / plain of each. On a loaded machine wall time mostly
// measures the queue for a core; the CPU-time ratio is the figure to quote.
//   build/bench/bench_sandbox [RUNS (default 30)] [CODE (default "print(sum(range(1000)))")]
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"

extern char** environ;

namespace {

double children_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Sample {
  double wall_s, cpu_s;
};

template <typename F>
Sample measure(F&& f) {
  const double cpu0 = children_cpu_s();
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), children_cpu_s() - cpu0};
}

std::string plain_python(const std::string& code) {
  int p[2];
  if (pipe(p) != 0) std::abort();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  std::string c = code;
  char a0[] = "/usr/bin/python3", a1[] = "-I", a2[] = "-S", a3[] = "-u", a4[] = "-c";
  char* argv[] = {a0, a1, a2, a3, a4, c.data(), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, a0, &fa, nullptr, argv, environ) != 0) std::abort();
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 30;
  const std::string code = argc > 2 ? argv[2] : "print(sum(range(1000)))";
  std::vector<double> sw, sc, pw, pc;
  std::string sandboxed_out, plain_out;
  for (int i = 0; i < runs; ++i) {
    const Sample s = measure([&] { sandboxed_out = helix::sandbox::run_python(code, {}).out; });
    const Sample p = measure([&] { plain_out = plain_python(code); });
    sw.push_back(s.wall_s), sc.push_back(s.cpu_s), pw.push_back(p.wall_s), pc.push_back(p.cpu_s);
    std::fprintf(stderr, "\rrun %d/%d", i + 1, runs);
  }
  std::fprintf(stderr, "\n");
  if (sandboxed_out != plain_out) {
    std::fprintf(stderr, "the outputs differ: sandboxed %s, plain %s\n", sandboxed_out.c_str(), plain_out.c_str());
    return 1;
  }
  std::printf("%d runs of %s (output %zu bytes, equal)\n", runs, code.c_str(), plain_out.size());
  std::printf("%-22s %12s %12s\n", "", "wall ms", "CPU ms");
  std::printf("%-22s %12.1f %12.1f\n", "sandbox::run_python", median(sw) * 1e3, median(sc) * 1e3);
  std::printf("%-22s %12.1f %12.1f\n", "plain python3 (peer)", median(pw) * 1e3, median(pc) * 1e3);
  std::printf("%-22s %12.2f %12.2f\n", "ratio sandboxed/plain", median(sw) / median(pw), median(sc) / median(pc));
  return 0;
}

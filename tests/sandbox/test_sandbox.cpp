// The sandboxed Python runner (src/sandbox): ordinary code works; network, host files, writes
// outside /tmp, fork bombs, threads, memory hogs, endless loops, sleeps and floods of output are
// each stopped with a clear error. Isolation tests skip (saying why) where the kernel refuses the
// namespaces, which Result::notes reports.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/error.h"
#include "sandbox/sandbox.h"

namespace helix::sandbox {
namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "; ";
  return s;
}

// Skips when this machine refuses a namespace the test relies on.
#define REQUIRE_ISOLATION(r)                                                                  \
  do {                                                                                        \
    if (!(r).notes.empty()) GTEST_SKIP() << "isolation refused here: " << joined((r).notes); \
  } while (0)

TEST(Sandbox, RunsOrdinaryCode) {
  const Result r = run_python(
      "import json, math, re\n"
      "print(math.factorial(20), math.sqrt(2))\n"
      "print(json.dumps({'a': [1, 2]}, sort_keys=True))\n"
      "print(re.findall(r'\\d+', 'a1b22c333'))\n",
      Limits{});
  EXPECT_TRUE(r.ok()) << r.error << r.err;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "2432902008176640000 1.4142135623730951\n{\"a\": [1, 2]}\n['1', '22', '333']\n");
  EXPECT_EQ(r.err, "");
}

TEST(Sandbox, ReturnsStderrExitStatusAndReadsStdin) {
  const Result r = run_python("import sys\nx = sys.stdin.read()\nprint(x.upper())\nprint('bad', file=sys.stderr)\nsys.exit(3)",
                              Limits{}, "hello");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "HELLO\n");
  EXPECT_EQ(r.err, "bad\n");
  EXPECT_NE(r.error.find("exited with status 3: bad"), std::string::npos) << r.error;
}

TEST(Sandbox, FinalExpressionIsPrinted) {
  EXPECT_EQ(run_python("x = 2\nx ** 10", Limits{}).out, "1024\n");
  EXPECT_EQ(run_python("'a' * 3", Limits{}).out, "'aaa'\n");
  EXPECT_EQ(run_python("print(1)", Limits{}).out, "1\n");  // None is not echoed
  EXPECT_EQ(run_python("def f():\n    return __name__\nf()", Limits{}).out, "'__main__'\n");
  const Result bad = run_python("x = (1,\n", Limits{});
  EXPECT_NE(bad.error.find("SyntaxError"), std::string::npos) << bad.error;
  EXPECT_NE(bad.err.find("\"<code>\", line"), std::string::npos) << bad.err;
}

TEST(Sandbox, ExceptionsNameTheirLine) {
  const Result r = run_python("x = 1\ny = x / 0\n", Limits{});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.error.find("ZeroDivisionError: division by zero"), std::string::npos) << r.error;
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
}

TEST(Sandbox, NoNetwork) {
  const Result r = run_python(
      "import socket\ns = socket.create_connection(('127.0.0.1', 22), timeout=2)\n", Limits{});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("Operation not permitted"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("refused by the sandbox"), std::string::npos) << r.error;
  const Result u = run_python("import urllib.request\nurllib.request.urlopen('http://example.com', timeout=3)\n", Limits{});
  EXPECT_FALSE(u.ok());
  EXPECT_TRUE(u.error.find("no network") != std::string::npos || u.error.find("refused by the sandbox") != std::string::npos)
      << u.error;
}

TEST(Sandbox, NoHostFiles) {
  const Result r = run_python("print(open('/etc/passwd').read())", Limits{});
  REQUIRE_ISOLATION(r);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.error.find("No such file or directory: '/etc/passwd'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("shows no host files"), std::string::npos) << r.error;
  const char* h = std::getenv("HOME");
  const Result home = run_python(cat("import os\nprint(os.listdir('", h ? h : "/root", "'))"), Limits{});
  EXPECT_FALSE(home.ok());
  EXPECT_EQ(home.out, "");
  // What the code sees at the top: the interpreter's /usr, its links, /dev and the scratch /tmp.
  const Result top = run_python("import os\nprint(sorted(os.listdir('/')))", Limits{});
  EXPECT_EQ(top.out, "['bin', 'dev', 'lib', 'lib64', 'sbin', 'tmp', 'usr']\n") << top.error << top.err;
}

TEST(Sandbox, WritesOnlyToTmp) {
  const Result ok = run_python("open('/tmp/a.txt', 'w').write('x' * 1000)\nprint(len(open('a.txt').read()))", Limits{});
  REQUIRE_ISOLATION(ok);
  EXPECT_TRUE(ok.ok()) << ok.error;
  EXPECT_EQ(ok.out, "1000\n");
  for (const char* path : {"/x.txt", "/usr/x.txt", "/usr/lib/x.txt"}) {
    const Result r = run_python(cat("open('", path, "', 'w').write('x')"), Limits{});
    EXPECT_FALSE(r.ok()) << path;
    EXPECT_NE(r.error.find("Read-only file system"), std::string::npos) << path << ": " << r.error;
    EXPECT_NE(r.error.find("only /tmp is writable"), std::string::npos) << r.error;
  }
}

TEST(Sandbox, FileSizeAndScratchLimits) {
  Limits l;
  l.file_bytes = 100 << 10;
  const Result big = run_python("open('/tmp/big', 'wb').write(b'x' * 200000)", l);
  EXPECT_TRUE(big.file_limit) << big.error;
  EXPECT_NE(big.error.find("the file size limit"), std::string::npos) << big.error;
  l.file_bytes = 8 << 20;
  l.scratch_bytes = 1 << 20;
  const Result full = run_python("open('/tmp/big', 'wb').write(b'x' * 4000000)", l);
  REQUIRE_ISOLATION(full);
  EXPECT_TRUE(full.file_limit) << full.error;
  EXPECT_NE(full.error.find("/tmp is full"), std::string::npos) << full.error;
}

TEST(Sandbox, ForkBombIsRefused) {
  const auto t0 = std::chrono::steady_clock::now();
  const Result r = run_python("import os\nwhile True:\n    os.fork()\n", Limits{});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("PermissionError"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("refused by the sandbox"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30);
  const Result sub = run_python("import subprocess\nsubprocess.run(['/usr/bin/true'])", Limits{});
  EXPECT_NE(sub.error.find("Operation not permitted"), std::string::npos) << sub.error;
  const Result sid = run_python("import os\nos.setsid()", Limits{});  // would escape the kill of the group
  EXPECT_NE(sid.error.find("Operation not permitted"), std::string::npos) << sid.error;
}

TEST(Sandbox, ThreadsAreLimited) {
  Limits l;
  l.processes = 8;
  const Result r = run_python(
      "import threading, time\nts = []\nfor i in range(50):\n"
      "    t = threading.Thread(target=time.sleep, args=(2,)); t.start(); ts.append(t)\n",
      l);
  REQUIRE_ISOLATION(r);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("can't start new thread"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("process limit"), std::string::npos) << r.error;
  const Result two = run_python("import threading\nt = threading.Thread(target=print, args=('hi',)); t.start(); t.join()", l);
  EXPECT_EQ(two.out, "hi\n") << two.error;
}

TEST(Sandbox, MemoryHogIsStopped) {
  Limits l;
  l.memory_bytes = 128 << 20;
  const Result r = run_python("x = bytearray(512 * 1024 * 1024)\nprint(len(x))", l);
  EXPECT_TRUE(r.memory_limit) << r.error;
  EXPECT_NE(r.error.find("more than 128 MiB of memory"), std::string::npos) << r.error;
  const Result grow = run_python("x = []\nwhile True:\n    x.append(' ' * 1000000)\n", l);
  EXPECT_TRUE(grow.memory_limit) << grow.error;
}

TEST(Sandbox, EndlessLoopHitsTheCpuLimit) {
  Limits l;
  l.cpu_s = 1;
  l.wall_s = 120;  // a loaded machine gives the loop a fraction of a core
  const Result r = run_python("while True:\n    pass\n", l);
  EXPECT_TRUE(r.cpu_limit) << r.error;
  EXPECT_NE(r.error.find("more than 1 s of CPU time"), std::string::npos) << r.error;
  EXPECT_GE(r.cpu_seconds, 0.6);  // rusage reads 5-10% below the clock the limit uses
}

TEST(Sandbox, SleeperHitsTheWallClockLimit) {
  Limits l;
  l.wall_s = 1;
  const Result r = run_python("import time\nprint('start')\ntime.sleep(60)\n", l);
  EXPECT_TRUE(r.timed_out) << r.error;
  EXPECT_NE(r.error.find("still running after 1 s"), std::string::npos) << r.error;
  EXPECT_EQ(r.out, "start\n");  // unbuffered: what was printed before the kill is kept
  EXPECT_LT(r.wall_seconds, 10);
}

TEST(Sandbox, HugeOutputIsCut) {
  Limits l;
  l.output_bytes = 10000;
  const Result r = run_python("while True:\n    print('x' * 1000)\n", l);
  EXPECT_TRUE(r.output_limit) << r.error;
  EXPECT_EQ(r.out.size(), 10000u);
  EXPECT_NE(r.error.find("printed more than 10000 bytes"), std::string::npos) << r.error;
}

TEST(Sandbox, CallerFilesDoNotLeak) {
  // No O_CLOEXEC, as a server's sockets may be: a fork inherits it. Above the 0-3 the keeper uses.
  const int opened = open("/proc/self/status", O_RDONLY);
  const int fd = fcntl(opened, F_DUPFD, 40);
  close(opened);
  ASSERT_GE(fd, 40);
  const Result r = run_python(cat("import os\nos.fstat(", fd, ")"), Limits{});
  close(fd);
  EXPECT_NE(r.error.find("Bad file descriptor"), std::string::npos) << r.error;
}

TEST(Sandbox, CallerSignalSettingsDoNotLeak) {
  // A server may ignore SIGCHLD or SIGPIPE and block signals in its threads.
  struct sigaction ign {}, old_chld {}, old_pipe {};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGCHLD, &ign, &old_chld);
  sigaction(SIGPIPE, &ign, &old_pipe);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  const Result r = run_python("import signal\nprint(signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN)\n"
                              "print(signal.pthread_sigmask(signal.SIG_BLOCK, []))", Limits{});
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGCHLD, &old_chld, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  EXPECT_TRUE(r.ok()) << r.error;  // an ignored SIGCHLD made the keeper's wait4 fail
  EXPECT_EQ(r.out, "True\nset()\n");  // Python ignores SIGPIPE itself; nothing is blocked
}

TEST(Sandbox, RunsConcurrently) {
  std::vector<Result> rs(4);
  std::vector<std::thread> ts;
  for (size_t i = 0; i < rs.size(); ++i)
    ts.emplace_back([&rs, i] { rs[i] = run_python(cat("print(", i, " * 7)"), Limits{}); });
  for (auto& t : ts) t.join();
  for (size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(rs[i].out, cat(i * 7, "\n")) << rs[i].error;
}

// A machine that refuses namespaces (as Docker's default seccomp profile does): a child of the
// test refuses itself unshare() with a seccomp filter, then runs the sandbox there.
TEST(Sandbox, DegradesWithNotesWhereNamespacesAreRefused) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(p[0]);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0) != 0 || seccomp_load(ctx) != 0) _exit(3);
    std::string report;
    try {
      const Result r = run_python("print(6 * 7)", Limits{});
      Limits strict;
      strict.require_isolation = true;
      const Result s = run_python("print(6 * 7)", strict);
      report = cat(r.out, "|", r.notes.empty() ? "" : r.notes[0], "|", s.out, "|", s.error);
    } catch (const std::exception& e) {
      report = e.what();
    }
    if (write(p[1], report.data(), report.size()) < 0) _exit(2);
    _exit(0);
  }
  close(p[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  EXPECT_EQ(got.substr(0, got.find('|')), "42\n") << got;  // degraded: it still runs
  EXPECT_NE(got.find("the kernel refused a user namespace"), std::string::npos) << got;
  EXPECT_NE(got.find("can read the host files its user can read"), std::string::npos) << got;
  EXPECT_NE(got.find("|the code was not run: this machine does not give the sandbox its full isolation"),
            std::string::npos) << got;  // require_isolation: not run, and the output stays empty
}

TEST(Sandbox, BadLimitsAndCodeAreClearErrors) {
  Limits l;
  l.memory_bytes = 1 << 20;
  EXPECT_THROW(run_python("print(1)", l), Error);
  EXPECT_THROW(run_python(std::string(kMaxCodeBytes + 1, '#'), Limits{}), Error);
  try {
    run_python("print(1)", l);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at least 32 MiB"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace helix::sandbox

// The sandbox's child side (see keeper.h): namespaces, the private root, rlimits, the seccomp
// filter, and the interpreter's exec. Only system calls after fork.
#include "sandbox/keeper.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace helix::sandbox {

namespace {

constexpr uid_t kNobody = 65534;
constexpr int kStatusFd = 3;

std::vector<sock_filter> build_filter() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);  // other architectures: killed (libseccomp's default)
  HELIX_CHECK(ctx, "seccomp_init failed");
  const int deny[] = {SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen),
                      SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(ptrace), SCMP_SYS(mount), SCMP_SYS(umount2),
                      SCMP_SYS(pivot_root), SCMP_SYS(chroot), SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(keyctl),
                      SCMP_SYS(add_key), SCMP_SYS(request_key), SCMP_SYS(bpf), SCMP_SYS(perf_event_open),
                      SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev), SCMP_SYS(kexec_load),
                      SCMP_SYS(init_module), SCMP_SYS(finit_module), SCMP_SYS(delete_module), SCMP_SYS(reboot),
                      SCMP_SYS(swapon), SCMP_SYS(swapoff), SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at),
                      SCMP_SYS(userfaultfd), SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter),
                      SCMP_SYS(io_uring_register), SCMP_SYS(fork), SCMP_SYS(vfork), SCMP_SYS(setsid),
                      SCMP_SYS(setpgid)};
  int rc = 0;
  for (int sc : deny) rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), sc, 0);
  // New processes: clone without CLONE_THREAD is refused (threads stay possible); clone3 says
  // ENOSYS so that the C library falls back to clone, whose flags the filter can read.
  const scmp_arg_cmp no_thread{0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0};  // (SCMP_A0 is a C compound literal)
  rc |= seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, &no_thread);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  const int fd = rc == 0 ? memfd_create("helix-seccomp", MFD_CLOEXEC) : -1;
  rc = fd >= 0 ? seccomp_export_bpf(ctx, fd) : -1;
  seccomp_release(ctx);
  std::string bytes;
  if (rc == 0 && lseek(fd, 0, SEEK_SET) == 0) {
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) bytes.append(buf, static_cast<size_t>(n));
  }
  if (fd >= 0) close(fd);
  HELIX_CHECK(rc == 0 && !bytes.empty() && bytes.size() % sizeof(sock_filter) == 0,
              "building the sandbox's seccomp filter with libseccomp failed");
  std::vector<sock_filter> prog(bytes.size() / sizeof(sock_filter));
  std::memcpy(prog.data(), bytes.data(), bytes.size());
  return prog;
}

// --- async-signal-safe helpers (the keeper runs after fork in a possibly threaded process) ----

const char* why(int e) {
  const char* d = strerrordesc_np(e);  // unlike strerror: no locale, no allocation
  return d ? d : "unknown error";
}

void put(const char* text) {
  if (write(kStatusFd, text, std::strlen(text)) < 0) return;
}

void put_num(long v) {
  char buf[24];
  char* p = buf + sizeof buf;
  *--p = '\0';
  const bool neg = v < 0;
  unsigned long u = neg ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
  do *--p = static_cast<char>('0' + u % 10); while ((u /= 10) != 0);
  if (neg) *--p = '-';
  put(p);
}

void note(const char* a, const char* b = "", const char* c = "", const char* d = "", const char* e = "") {
  put("N "), put(a), put(b), put(c), put(d), put(e), put("\n");
}

bool write_file(const char* path, const std::string& text) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// Moves the four fds to 0..3 and closes every other descriptor the caller had open.
void arrange_fds(int in, int out, int err, int status) {
  int fds[4] = {in, out, err, status};
  for (int& fd : fds) fd = fcntl(fd, F_DUPFD, 10);
  for (int i = 0; i < 4; ++i) dup2(fds[i], i);
  if (close_range(4, ~0U, 0) != 0) {
    rlimit r{};
    const long top = getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY ? static_cast<long>(r.rlim_cur) : 65536;
    for (long fd = 4; fd < top; ++fd) close(static_cast<int>(fd));
  }
  fcntl(kStatusFd, F_SETFD, FD_CLOEXEC);
}

bool bind_dev(const char* name) {
  char src[32] = "/dev/", dst[40] = "/tmp/dev/";
  std::strcat(src, name), std::strcat(dst, name);
  const int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0) return false;
  close(fd);
  return mount(src, dst, nullptr, MS_BIND, nullptr) == 0;
}

// The flags of /usr's mount that a read-only bind remount in a user namespace must keep.
unsigned long kept_flags(const char* path) {
  struct statvfs s {};
  if (statvfs(path, &s) != 0) return 0;
  unsigned long f = 0;
  if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (s.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (s.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (s.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// The new root, built on a tmpfs over /tmp of the (private) mount namespace, then pivoted to:
// /usr read-only, bin/lib/lib64/sbin links into it, /dev/{null,zero,urandom}, a writable /tmp;
// the root itself read-only. Returns the step that failed, or null.
const char* new_root(const std::string& scratch_options) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return "making the mounts private";
  if (mount("helix-sandbox", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755") != 0) return "the root tmpfs";
  for (const char* d : {"/tmp/usr", "/tmp/tmp", "/tmp/dev"})
    if (mkdir(d, 0755) != 0) return "the root's folders";
  const unsigned long ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
  if (mount("/usr", "/tmp/usr", nullptr, MS_BIND | MS_REC, nullptr) != 0 ||
      mount(nullptr, "/tmp/usr", nullptr, ro | kept_flags("/usr"), nullptr) != 0)
    return "binding /usr read-only";
  for (const char* d : {"bin", "lib", "lib64", "sbin"}) {
    char link[16] = "usr/", path[16] = "/tmp/";
    std::strcat(link, d), std::strcat(path, d);
    if (symlink(link, path) != 0) return "the root's links into /usr";
  }
  for (const char* dev : {"null", "zero", "urandom"}) bind_dev(dev);  // optional: Python needs none of them
  if (mount("helix-scratch", "/tmp/tmp", "tmpfs", MS_NOSUID | MS_NODEV, scratch_options.c_str()) != 0)
    return "the scratch tmpfs";
  if (mount(nullptr, "/tmp", nullptr, ro, nullptr) != 0) return "making the root read-only";
  if (chdir("/tmp") != 0) return "entering the new root";
  if (syscall(SYS_pivot_root, ".", ".") == 0) {
    if (umount2(".", MNT_DETACH) != 0) return "detaching the host's root";
  } else if (chroot(".") != 0) {
    return "pivot_root and chroot";
  }
  return chdir("/tmp") == 0 ? nullptr : "entering /tmp";
}

// Namespaces: user first (as nobody when started as root), then each of the others; notes say
// what is missing and what that means. Returns false when isolation is incomplete.
bool enter_namespaces(const Plan& p) {
  if (unshare(CLONE_NEWUSER) != 0) {
    note("the kernel refused a user namespace (", why(errno),
         "): no mount, network or PID namespace either; the code runs with the seccomp filter (no sockets, no new "
         "processes) and the rlimits, and can read the host files its user can read");
    return false;
  }
  if (!write_file("/proc/self/uid_map", p.uid_map) || !write_file("/proc/self/setgroups", "deny") ||
      !write_file("/proc/self/gid_map", p.gid_map))
    note("the user namespace's id maps could not be written: the code runs without an id inside it");
  bool complete = true;
  struct Ns {
    int flag;
    const char* missing;
    bool essential;
  };
  const Ns all[] = {
      {CLONE_NEWNS, "the kernel refused a mount namespace: no private root, the code can read the host files its user can read", true},
      {CLONE_NEWNET, "the kernel refused a network namespace: the seccomp filter still refuses sockets", true},
      {CLONE_NEWPID, "the kernel refused a PID namespace: the code can see the host's processes", false},
      {CLONE_NEWIPC, "the kernel refused an IPC namespace: the host's System V IPC is visible", false},
      {CLONE_NEWUTS, "the kernel refused a UTS namespace", false}};
  for (const Ns& ns : all) {
    if (unshare(ns.flag) == 0) {
      if (ns.flag == CLONE_NEWNS)
        if (const char* step = new_root(p.scratch_options)) {
          const int e = errno;
          note("the private root could not be built (", step, " failed: ", why(e),
               "): the code can read the host files its user can read");
          complete = false;
        }
      continue;
    }
    note(ns.missing);
    complete = complete && !ns.essential;
  }
  return complete;
}

void set_limit(int what, rlim_t soft, rlim_t hard) {
  const rlimit r{soft, hard};
  setrlimit(what, &r);
}

[[noreturn]] void exec_python(const Plan& p) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const Limits& l = p.limits;
  // The hard limit kills with SIGKILL (soft = hard: an interpreter that is PID 1 of its namespace
  // ignores the soft limit's SIGXCPU, so a lower soft limit would not stop it anyway).
  set_limit(RLIMIT_CPU, static_cast<rlim_t>(l.cpu_s), static_cast<rlim_t>(l.cpu_s));
  set_limit(RLIMIT_AS, l.memory_bytes, l.memory_bytes);
  set_limit(RLIMIT_FSIZE, l.file_bytes, l.file_bytes);
  set_limit(RLIMIT_NPROC, static_cast<rlim_t>(l.processes), static_cast<rlim_t>(l.processes));
  set_limit(RLIMIT_NOFILE, 64, 64);
  set_limit(RLIMIT_CORE, 0, 0);
  set_limit(RLIMIT_MEMLOCK, 0, 0);
  sock_fprog prog{static_cast<unsigned short>(p.filter->size()), const_cast<sock_filter*>(p.filter->data())};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    note("the seccomp filter could not be loaded (", why(errno), "): the code was not run");
    _exit(126);
  }
  execve(p.argv[0], p.argv.data(), p.envp.data());
  note("the interpreter ", p.argv[0], " could not be started in the sandbox");
  _exit(127);
}

}  // namespace

const std::vector<sock_filter>& seccomp_program() {
  static const std::vector<sock_filter> prog = build_filter();
  return prog;
}

void run_keeper(const Plan& p, int in, int out, int err, int status) {
  setsid();  // its own process group: the caller kills the group
  // The caller's signal mask and ignored signals would survive exec (and an ignored SIGCHLD would
  // make wait4 below fail): everything back to the defaults.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // SIGKILL, SIGSTOP: refused, harmless
  arrange_fds(in, out, err, status);
  if (p.drop_to_nobody && (setgroups(0, nullptr) != 0 || setresgid(kNobody, kNobody, kNobody) != 0 ||
                           setresuid(kNobody, kNobody, kNobody) != 0)) {
    note("could not drop root privileges to nobody: the code was not run");
    _exit(126);
  }
  // After the credentials change, which clears both: the parent-death signal, and "dumpable"
  // (without it /proc/self/uid_map belongs to root and nobody could not write its id maps).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_DUMPABLE, 1);
  if (getppid() != p.parent) _exit(125);
  const bool complete = enter_namespaces(p);
  if (!complete && p.limits.require_isolation) {
    put("X\n");
    _exit(126);
  }
  if (chdir("/tmp") != 0) note("no /tmp to work in");
  const pid_t pid = fork();
  if (pid == 0) exec_python(p);
  close(0), close(1), close(2);
  if (pid < 0) {
    note("could not start the interpreter's process (", why(errno), ")");
    _exit(125);
  }
  put("P "), put_num(pid), put("\n");
  int st = 0;
  rusage ru{};
  while (wait4(pid, &st, 0, &ru) < 0)
    if (errno != EINTR) _exit(125);
  const long cpu_ms = ru.ru_utime.tv_sec * 1000L + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000L +
                      ru.ru_stime.tv_usec / 1000;
  put("S "), put_num(st), put(" "), put_num(cpu_ms), put("\n");
  _exit(0);
}

}  // namespace helix::sandbox

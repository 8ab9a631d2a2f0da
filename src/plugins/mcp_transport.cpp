// MCP transports (see mcp.h): a child process over stdio, and streamable HTTP.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "mcp/mcp.h"
#include "plugins/http.h"
#include "plugins/mcp.h"

extern char** environ;

namespace helix::plugins {
namespace {

using Clock = std::chrono::steady_clock;

std::string shorten(const std::string& s, size_t n = 200) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

bool same_id(const ojson& a, const ojson& b) { return a == b; }

// ---- stdio: newline-delimited JSON-RPC on the child's stdin/stdout -------------------------

class StdioTransport : public McpTransport {
 public:
  StdioTransport(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
                 size_t max_bytes)
      : name_(argv.empty() ? "" : argv[0]), max_bytes_(max_bytes) {
    HELIX_CHECK(!argv.empty(), "the MCP server's command is empty");
    // Everything the child needs is built before fork (only exec-safe calls after it).
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      bool replaced = false;
      for (const auto& [k, v] : env) replaced = replaced || kv.compare(0, k.size() + 1, k + "=") == 0;
      if (!replaced) envs.push_back(kv);
    }
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> av, ev;
    for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    for (auto& e : envs) ev.push_back(e.data());
    ev.push_back(nullptr);
    int sv[2], out[2], err[2];
    // stdin is a socket so that writing to a server that has exited fails with EPIPE
    // (send with MSG_NOSIGNAL) instead of raising SIGPIPE in Helix.
    HELIX_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
                    pipe2(err, O_CLOEXEC) == 0,
                "cannot create pipes for the MCP server: ", std::strerror(errno));
    pid_ = fork();
    HELIX_CHECK(pid_ >= 0, "cannot start the MCP server: ", std::strerror(errno));
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(sv[1], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      execvpe(av[0], av.data(), ev.data());
      const char* m = "cannot run the MCP server's command: ";
      (void)!write(2, m, std::strlen(m));
      (void)!write(2, std::strerror(errno), std::strlen(std::strerror(errno)));
      _exit(127);
    }
    ::close(sv[1]);
    ::close(out[1]);
    ::close(err[1]);
    in_ = sv[0], out_ = out[0], err_ = err[0];
  }
  ~StdioTransport() override {
    ::close(in_);  // EOF on stdin: a well-behaved server exits
    int status = 0;
    for (int i = 0; i < 20 && waitpid(pid_, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (waitpid(pid_, &status, WNOHANG) == 0) {
      kill(-pid_, SIGTERM);
      for (int i = 0; i < 20 && waitpid(pid_, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        kill(-pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
    }
    ::close(out_);
    ::close(err_);
  }

  ojson request(const ojson& msg, double timeout_s) override {
    send(msg);
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
    for (;;) {
      ojson m = read_message(deadline, timeout_s, msg);
      if (m.contains("method")) {
        if (m.contains("id")) {  // a request from the server: answer ping, refuse the rest
          if (m["method"] == "ping") send({{"jsonrpc", "2.0"}, {"id", m["id"]}, {"result", ojson::object()}});
          else send(mcp::error_reply(m["id"], -32601, "Helix's MCP client does not offer this method"));
        }
        continue;
      }
      if (m.contains("id") && same_id(m["id"], msg["id"])) return m;
    }
  }
  void notify(const ojson& msg) override { send(msg); }

 private:
  void send(const ojson& msg) {
    const std::string line = msg.dump() + "\n";
    size_t off = 0;
    while (off < line.size()) {
      const ssize_t n = ::send(in_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) exited("while Helix was writing to it");
      off += static_cast<size_t>(n);
    }
  }
  [[noreturn]] void exited(const std::string& when) {
    int status = 0;
    pid_t w = 0;
    for (int i = 0; i < 40 && (w = waitpid(pid_, &status, WNOHANG)) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    drain_stderr();
    std::string how = w != pid_ ? std::string("closed its output")
                      : WIFEXITED(status) ? cat("exited with status ", WEXITSTATUS(status))
                      : WIFSIGNALED(status) ? cat("was killed by signal ", WTERMSIG(status))
                                            : std::string("stopped");
    throw Error(cat("the MCP server (", name_, ") ", how, " ", when,
                    err_tail_.empty() ? "" : "; its last error output: " + shorten(err_tail_, 400)));
  }
  void drain_stderr() {
    char b[4096];
    for (;;) {
      pollfd p{err_, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) return;
      const ssize_t n = ::read(err_, b, sizeof b);
      if (n <= 0) return;
      err_tail_.append(b, static_cast<size_t>(n));
      if (err_tail_.size() > 4000) err_tail_.erase(0, err_tail_.size() - 4000);
    }
  }
  ojson read_message(Clock::time_point deadline, double timeout_s, const ojson& req) {
    for (;;) {
      const size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        ojson m;
        try {
          m = ojson::parse(line);
        } catch (const std::exception&) {
          throw Error(cat("the MCP server (", name_, ") wrote something that is not JSON-RPC: '", shorten(line), "'"));
        }
        if (!m.is_object() || m.value("jsonrpc", "") != "2.0")
          throw Error(cat("the MCP server (", name_, ") wrote something that is not JSON-RPC 2.0: '", shorten(line), "'"));
        return m;
      }
      HELIX_CHECK(buf_.size() <= max_bytes_, "the MCP server (", name_, ") sent a message larger than the plugin's limit of ",
                  max_bytes_, " bytes");
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        notify({{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"},
                {"params", {{"requestId", req["id"]}, {"reason", "timeout"}}}});
        throw Error(cat("the MCP server (", name_, ") did not answer ", req.value("method", "the request"), " within ",
                        timeout_s, " s (the plugin's timeout)"));
      }
      pollfd p[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
      const int r = poll(p, 2, static_cast<int>(std::min<int64_t>(left, 1000)));
      if (r < 0 && errno == EINTR) continue;
      if (p[1].revents & (POLLIN | POLLHUP)) drain_stderr();
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        char b[65536];
        const ssize_t n = ::read(out_, b, sizeof b);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) exited(cat("before answering ", req.value("method", "")));
        if (n > 0) buf_.append(b, static_cast<size_t>(n));
      }
    }
  }

  std::string name_;
  size_t max_bytes_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string buf_, err_tail_;
};

// ---- streamable HTTP ------------------------------------------------------------------------

class HttpTransport : public McpTransport {
 public:
  HttpTransport(const std::string& url, std::vector<std::pair<std::string, std::string>> headers, size_t max_bytes)
      : url_(parse_url(url)), headers_(std::move(headers)), max_bytes_(max_bytes) {}
  ~HttpTransport() override {
    if (session_.empty()) return;
    try {  // ends the session (servers may answer 405: they keep it until it expires)
      HttpRequest r = base("DELETE", 2);
      http_send(r);
    } catch (const std::exception&) {
    }
  }
  void set_protocol_version(const std::string& v) override { version_ = v; }

  ojson request(const ojson& msg, double timeout_s) override {
    HttpResponse res = post(msg, timeout_s);
    const std::string ct = res.header("Content-Type");
    std::vector<ojson> msgs;
    if (ct.find("text/event-stream") != std::string::npos) {
      msgs = sse_messages(res.body);
    } else {
      ojson j = parse(res.body);
      if (j.is_array()) msgs.assign(j.begin(), j.end());
      else msgs.push_back(j);
    }
    for (const auto& m : msgs)
      if (m.is_object() && m.contains("id") && !m.contains("method") && same_id(m["id"], msg["id"])) return m;
    throw Error(cat("the MCP server at ", url_.origin(), url_.target, " answered ", msg.value("method", ""),
                    " without a JSON-RPC response to it"));
  }
  void notify(const ojson& msg) override { post(msg, 10); }

 private:
  HttpRequest base(const std::string& method, double timeout_s) const {
    HttpRequest r;
    r.method = method;
    r.url = url_;
    r.timeout_s = timeout_s;
    r.max_bytes = max_bytes_;
    r.headers.emplace("Accept", "application/json, text/event-stream");
    for (const auto& [k, v] : headers_) r.headers.emplace(k, v);
    if (!session_.empty()) r.headers.emplace("Mcp-Session-Id", session_);
    if (!version_.empty()) r.headers.emplace("MCP-Protocol-Version", version_);
    return r;
  }
  HttpResponse post(const ojson& msg, double timeout_s) {
    HttpRequest r = base("POST", timeout_s);
    r.body = msg.dump();
    r.content_type = "application/json";
    HttpResponse res = http_send(r);
    if (res.status == 404 && !session_.empty())
      throw Error(cat("the MCP server at ", url_.origin(), " no longer knows this session (it restarted or the session "
                      "expired); the next call starts a new one"));
    if (res.status == 401 || res.status == 403)
      throw Error(cat("the MCP server at ", url_.origin(), " refused the request (HTTP ", res.status,
                      "): check the plugin's [auth] key"));
    if (res.status >= 300)
      throw Error(cat("the MCP server at ", url_.origin(), url_.target, " answered HTTP ", res.status, ": ", shorten(res.body)));
    if (const std::string s = res.header("Mcp-Session-Id"); !s.empty()) session_ = s;
    return res;
  }
  ojson parse(const std::string& text) const {
    try {
      return ojson::parse(text);
    } catch (const std::exception&) {
      throw Error(cat("the MCP server at ", url_.origin(), " sent something that is not JSON-RPC: '", shorten(text), "'"));
    }
  }
  // The JSON messages of an event stream's events (data lines joined by newlines).
  std::vector<ojson> sse_messages(const std::string& body) const {
    std::vector<ojson> out;
    std::string data;
    size_t pos = 0;
    auto flush = [&] {
      if (!data.empty()) out.push_back(parse(data));
      data.clear();
    };
    while (pos <= body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string::npos) nl = body.size();
      std::string line = body.substr(pos, nl - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      pos = nl + 1;
      if (line.empty()) {
        flush();
      } else if (line.compare(0, 5, "data:") == 0) {
        std::string d = line.substr(5);
        if (!d.empty() && d[0] == ' ') d.erase(0, 1);
        data += (data.empty() ? "" : "\n") + d;
      }
    }
    flush();
    return out;
  }

  Url url_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string session_, version_;
  size_t max_bytes_;
};

}  // namespace

std::unique_ptr<McpTransport> mcp_stdio(const std::vector<std::string>& argv,
                                        const std::vector<std::pair<std::string, std::string>>& env, size_t max_bytes) {
  return std::make_unique<StdioTransport>(argv, env, max_bytes);
}

std::unique_ptr<McpTransport> mcp_http(const std::string& url, std::vector<std::pair<std::string, std::string>> headers,
                                       size_t max_bytes) {
  return std::make_unique<HttpTransport>(url, std::move(headers), max_bytes);
}

}  // namespace helix::plugins

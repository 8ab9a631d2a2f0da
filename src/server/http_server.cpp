// The event-driven front end of helix serve (see http_server.h): the epoll loop that owns
// connections while requests arrive, admission at the caps, deadlines, and the hand-off of
// complete requests to cpp-httplib on worker threads.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "server/api_json.h"

namespace helix::server::http {
namespace {

using Clock = std::chrono::steady_clock;

thread_local RequestLog* t_log = nullptr;

Clock::duration seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

const char* reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// A whole HTTP response carrying an OpenAI-shaped error, for answers the front end gives itself.
std::string error_response(int status, const std::string& message, const std::string& code) {
  const std::string type = status >= 500 ? "server_error" : "invalid_request_error";
  const std::string body = dump(error_json(ApiError{status, message, type, "", code}));
  return cat("HTTP/1.1 ", status, " ", reason_phrase(status), "\r\nContent-Type: application/json\r\nContent-Length: ",
             body.size(), status == 503 ? "\r\nRetry-After: 1" : "", "\r\nConnection: close\r\n\r\n", body);
}

// Reads the buffered request; writes to the (non-blocking) socket, waiting at most the write
// timeout for a client that does not read.
class BufferedStream final : public httplib::Stream {
 public:
  BufferedStream(int fd, std::string in, const std::string& ip, int port, double write_timeout_s)
      : fd_(fd), in_(std::move(in)), ip_(ip), port_(port), write_timeout_(seconds(write_timeout_s)) {}

  bool is_readable() const override { return pos_ < in_.size(); }
  bool is_writable() const override {
    if (failed_) return false;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, 0) < 0) return errno == EINTR;
    return (p.revents & (POLLERR | POLLHUP | POLLNVAL)) == 0;
  }
  ssize_t read(char* p, size_t n) override {
    const size_t k = std::min(n, in_.size() - pos_);
    std::memcpy(p, in_.data() + pos_, k);
    pos_ += k;
    return static_cast<ssize_t>(k);
  }
  ssize_t write(const char* p, size_t n) override {
    if (failed_) return -1;
    const auto deadline = Clock::now() + write_timeout_;
    size_t done = 0;
    while (done < n) {
      const ssize_t k = ::send(fd_, p + done, n - done, MSG_NOSIGNAL);
      if (k > 0) {
        done += static_cast<size_t>(k);
        continue;
      }
      if (k < 0 && errno == EINTR) continue;
      if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd pf{fd_, POLLOUT, 0};
        if (left > 0 && (::poll(&pf, 1, static_cast<int>(left)) >= 0 || errno == EINTR) &&
            (pf.revents & (POLLERR | POLLHUP | POLLNVAL)) == 0)
          continue;
      }
      failed_ = true;
      return -1;
    }
    return static_cast<ssize_t>(n);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = ip_;
    port = port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    ip.clear();
    port = 0;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&a), len, host, sizeof(host), serv, sizeof(serv),
                      NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
      ip = host;
      port = std::atoi(serv);
    }
  }
  socket_t socket() const override { return fd_; }
  bool failed() const { return failed_; }

 private:
  int fd_;
  std::string in_;
  size_t pos_ = 0;
  std::string ip_;
  int port_;
  Clock::duration write_timeout_;
  mutable bool failed_ = false;
};

bool is_cheap(const std::string& method, const std::string& target) {
  if (method == "OPTIONS") return true;
  if (method != "GET" && method != "HEAD") return false;
  const std::string path = target.substr(0, target.find('?'));
  return path == "/health" || path == "/metrics" || path == "/v1/models" || path.rfind("/v1/models/", 0) == 0;
}

std::string peer_ip(const sockaddr_storage& a, int& port) {
  char host[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &v4.sin_addr, host, sizeof(host));
    port = ntohs(v4.sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof(host));
    port = ntohs(v6.sin6_port);
  }
  return host;
}

}  // namespace

std::string client_key(const sockaddr_storage& a) {
  if (a.ss_family != AF_INET6) {
    int port = 0;
    return peer_ip(a, port);
  }
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
  const uint8_t* b = v6.sin6_addr.s6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {  // ::ffff:a.b.c.d is the IPv4 client a.b.c.d
    char host[INET_ADDRSTRLEN] = "";
    ::inet_ntop(AF_INET, b + 12, host, sizeof(host));
    return host;
  }
  if (IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr)) return "::1";
  in6_addr net{};
  std::copy(b, b + 8, net.s6_addr);  // one subscriber usually holds a whole /64
  char host[INET6_ADDRSTRLEN] = "";
  ::inet_ntop(AF_INET6, &net, host, sizeof(host));
  return std::string(host) + "/64";
}

RequestLog* current_request_log() { return t_log; }

struct Conn {
  enum class St { Idle, Reading, Busy, Closing };
  int fd = -1;
  std::string ip;
  std::string key;  // client_key(): what the per-client cap counts
  int port = 0;
  RequestReader reader;
  St st = St::Idle;
  Clock::time_point since, deadline, request_start;
  int served = 0;
  bool continue_sent = false;
};

struct HttpServer::Loop {
  HttpServer& s;
  int listen_fd = -1, ep = -1, wake = -1;
  bool listening = false;
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  std::unordered_map<std::string, int> per_client;
  std::mutex mu;
  std::vector<std::pair<Conn*, bool>> handback;  // finished requests: connection, keep it
  std::atomic<bool> stop{false};
  std::unique_ptr<httplib::ThreadPool> workers, cheap;
  std::atomic<int64_t> open{0}, accepted{0}, refused{0}, evicted{0}, timed_out{0}, rejected{0};

  explicit Loop(HttpServer& server) : s(server) {}
  ~Loop() {
    for (int fd : {listen_fd, ep, wake})
      if (fd >= 0) ::close(fd);
  }

  void watch(int fd, bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev);
  }
  void conn_log(const std::string& ip, const std::string& what) {
    if (s.connection_logger_) s.connection_logger_(ip, what);
  }
  void run();
  void accept_all();
  bool admit(const std::string& key);
  void on_readable(Conn& c);
  void progress(Conn& c);
  void dispatch(Conn& c);
  void take_back();
  void close_conn(Conn& c);
  void reply_and_close(Conn& c, int status, const std::string& message, const std::string& code);
  void expire();
  void shutdown();
};

void HttpServer::Loop::run() {
  watch(wake, true);
  watch(listen_fd, true);
  listening = true;
  workers = std::make_unique<httplib::ThreadPool>(static_cast<size_t>(std::max(1, s.lim_.workers)));
  cheap = std::make_unique<httplib::ThreadPool>(static_cast<size_t>(std::max(1, s.lim_.cheap_workers)));
  std::vector<epoll_event> events(256);
  auto next_tick = Clock::now();
  while (!stop.load()) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<size_t>(i)].data.fd;
      if (fd == listen_fd) {
        accept_all();
      } else if (fd == wake) {
        uint64_t v;
        while (::read(wake, &v, sizeof(v)) > 0) {
        }
        take_back();
      } else if (auto it = conns.find(fd); it != conns.end()) {
        on_readable(*it->second);
      }
    }
    if (Clock::now() >= next_tick) {
      expire();
      next_tick = Clock::now() + std::chrono::milliseconds(100);
    }
  }
  shutdown();
}

void HttpServer::Loop::accept_all() {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: make room by closing a waiting connection, else pause accepting
        // until the next tick (level-triggered epoll would spin otherwise).
        if (!admit("")) {
          watch(listen_fd, false);
          listening = false;
          return;
        }
        continue;
      }
      return;  // EAGAIN: all pending connections taken
    }
    int port = 0;
    const std::string ip = peer_ip(addr, port);
    const std::string key = client_key(addr);
    if (!admit(key)) {
      ++refused;
      const std::string r = error_response(503, "the server has too many open connections; retry shortly", "too_many_connections");
      [[maybe_unused]] const ssize_t w = ::send(fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      conn_log(ip, "refused: connection limits reached and every connection is being served");
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->ip = ip;
    c->key = key;
    c->port = port;
    c->reader = RequestReader(s.lim_.reader);
    c->since = Clock::now();
    c->deadline = c->since + seconds(s.lim_.request_timeout_s);
    ++per_client[key];
    ++accepted;
    open.store(static_cast<int64_t>(conns.size()) + 1);
    watch(fd, true);
    conns.emplace(fd, std::move(c));
  }
}

// Makes room for a new connection from client `key` ("" after EMFILE: any room): at a cap, closes the
// longest-waiting connection that is not being served (closing ones, then idle kept-alive ones,
// then unfinished requests, oldest first: a slow client's connections are older than a new
// client's); false when every connection in scope is being served.
bool HttpServer::Loop::admit(const std::string& key) {
  const bool any = key.empty();
  const bool client_full = !any && per_client.count(key) && per_client[key] >= s.lim_.max_per_client;
  const bool total_full = static_cast<int>(conns.size()) >= s.lim_.max_connections;
  if (!any && !client_full && !total_full) return true;
  Conn* victim = nullptr;
  for (auto& [fd, c] : conns) {
    if (c->st == Conn::St::Busy || (client_full && c->key != key)) continue;
    // A new connection whose request has not arrived yet ranks with unfinished requests.
    auto rank = [](const Conn& x) {
      return x.st == Conn::St::Closing ? 0 : x.st == Conn::St::Idle && x.served > 0 ? 1 : 2;
    };
    if (!victim || rank(*c) < rank(*victim) || (rank(*c) == rank(*victim) && c->since < victim->since))
      victim = c.get();
  }
  if (!victim) return false;
  if (victim->st != Conn::St::Closing) {
    ++evicted;
    conn_log(victim->ip, victim->st == Conn::St::Idle ? "closed an idle connection to make room"
                                                     : "closed a connection still sending its request to make room");
  }
  close_conn(*victim);
  return true;
}

void HttpServer::Loop::on_readable(Conn& c) {
  char buf[16384];
  for (;;) {
    const ssize_t k = ::recv(c.fd, buf, sizeof(buf), 0);
    if (k > 0) {
      if (c.st == Conn::St::Closing) continue;  // draining what a refused client still sends
      if (c.st == Conn::St::Idle) {
        c.st = Conn::St::Reading;
        c.request_start = c.since = Clock::now();
        c.deadline = c.request_start + seconds(s.lim_.request_timeout_s);
      }
      if (c.reader.feed(buf, static_cast<size_t>(k)) != RequestReader::State::NeedMore) break;
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close_conn(c);  // closed by the client (or reset), possibly mid-request
    return;
  }
  if (c.st == Conn::St::Reading) progress(c);
}

void HttpServer::Loop::progress(Conn& c) {
  switch (c.reader.state()) {
    case RequestReader::State::Error:
      ++rejected;
      reply_and_close(c, c.reader.error_status(), c.reader.error_message(), "");
      return;
    case RequestReader::State::Complete:
      dispatch(c);
      return;
    case RequestReader::State::NeedMore:
      if (c.reader.wants_continue() && !c.continue_sent) {
        static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        [[maybe_unused]] const ssize_t w = ::send(c.fd, kContinue, sizeof(kContinue) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        c.continue_sent = true;
      }
      return;
  }
}

void HttpServer::Loop::dispatch(Conn& c) {
  watch(c.fd, false);
  c.st = Conn::St::Busy;
  c.continue_sent = false;
  // While draining every request is answered at once (503), so none waits for a busy worker.
  const bool cheap_route = s.draining() || is_cheap(c.reader.method(), c.reader.target());
  const bool close = s.draining() || ++c.served >= s.lim_.max_requests_per_connection;
  auto log = std::make_shared<RequestLog>();
  log->start = c.request_start;
  log->method = c.reader.method();
  log->path = c.reader.target().substr(0, c.reader.target().find('?'));
  log->client = c.ip;
  log->body_bytes = c.reader.body_size();
  auto request = std::make_shared<std::string>(c.reader.take_request());
  Conn* cp = &c;
  (cheap_route ? cheap : workers)->enqueue([this, cp, request, log, close] {
    const bool keep = s.serve_one(cp->fd, cp->ip, cp->port, std::move(*request), *log, close);
    {
      std::lock_guard<std::mutex> lk(mu);
      handback.emplace_back(cp, keep);
    }
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(wake, &one, sizeof(one));
  });
}

void HttpServer::Loop::take_back() {
  std::vector<std::pair<Conn*, bool>> done;
  {
    std::lock_guard<std::mutex> lk(mu);
    done.swap(handback);
  }
  for (auto [c, keep] : done) {
    if (!keep || s.draining()) {
      close_conn(*c);
      continue;
    }
    c->since = Clock::now();
    if (c->reader.started()) {  // a pipelined request already (partly) arrived
      c->st = Conn::St::Reading;
      c->request_start = c->since;
      c->deadline = c->since + seconds(s.lim_.request_timeout_s);
    } else {
      c->st = Conn::St::Idle;
      c->deadline = c->since + seconds(s.lim_.keep_alive_s);
    }
    watch(c->fd, true);
    if (c->st == Conn::St::Reading) progress(*c);
  }
}

void HttpServer::Loop::close_conn(Conn& c) {
  const int fd = c.fd;
  if (c.st != Conn::St::Busy) watch(fd, false);
  if (auto it = per_client.find(c.key); it != per_client.end() && --it->second <= 0) per_client.erase(it);
  conns.erase(fd);  // destroys c
  ::close(fd);
  open.store(static_cast<int64_t>(conns.size()));
}

// Answers with an error and closes gracefully: the write side now, the socket once the client
// has stopped sending (or after 2 s), so that it can read the answer instead of a reset.
void HttpServer::Loop::reply_and_close(Conn& c, int status, const std::string& message, const std::string& code) {
  const std::string r = error_response(status, message, code);
  [[maybe_unused]] const ssize_t w = ::send(c.fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(c.fd, SHUT_WR);
  if (s.request_logger_) {
    RequestLog log;
    log.start = c.request_start;
    log.method = c.reader.method().empty() ? "-" : c.reader.method();
    log.path = c.reader.target().empty() ? "-" : c.reader.target().substr(0, c.reader.target().find('?'));
    log.client = c.ip;
    log.status = status;
    s.request_logger_(log);
  }
  conn_log(c.ip, cat("answered ", status, ": ", message));
  c.st = Conn::St::Closing;
  c.since = Clock::now();
  c.deadline = c.since + std::chrono::seconds(2);
}

void HttpServer::Loop::expire() {
  if (!listening) {
    watch(listen_fd, true);
    listening = true;
  }
  const auto now = Clock::now();
  std::vector<Conn*> due;
  for (auto& [fd, c] : conns) {
    if (c->st == Conn::St::Busy) continue;
    // Draining closes kept-alive idle connections; a new one (nothing served yet) may still send
    // its request and read the 503 instead of a reset.
    if (now >= c->deadline || (s.draining() && c->st == Conn::St::Idle && c->served > 0)) due.push_back(c.get());
  }
  for (Conn* c : due) {
    if (c->st == Conn::St::Reading) {
      ++timed_out;
      reply_and_close(*c, 408,
                      cat("the request did not arrive within ", s.lim_.request_timeout_s,
                          " s (helix serve --request-timeout)"),
                      "request_timeout");
    } else {
      close_conn(*c);
    }
  }
}

void HttpServer::Loop::shutdown() {
  watch(listen_fd, false);
  workers->shutdown();  // lets requests still running finish
  cheap->shutdown();
  take_back();
  std::vector<Conn*> all;
  for (auto& [fd, c] : conns) all.push_back(c.get());
  for (Conn* c : all) close_conn(*c);
}

HttpServer::HttpServer(ServerLimits limits) : loop_(std::make_unique<Loop>(*this)), lim_(limits) {
  // Status, method and path of each request reach its log record through httplib's logger,
  // which runs on the worker thread once the response (stream included) is written.
  set_logger([](const httplib::Request& req, const httplib::Response& res) {
    if (RequestLog* l = t_log) {
      l->status = res.status;
      l->user_agent = req.get_header_value("User-Agent");
    }
  });
  set_keep_alive_timeout(static_cast<time_t>(lim_.keep_alive_s));
  set_keep_alive_max_count(static_cast<size_t>(lim_.max_requests_per_connection));
  set_payload_max_length(lim_.reader.max_body);
}

HttpServer::~HttpServer() { svr_sock_ = INVALID_SOCKET; }

int HttpServer::bind_listener(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res); rc != 0)
    throw Error(cat("cannot listen on '", host, "': ", ::gai_strerror(rc), " (--host takes an address such as 127.0.0.1)"));
  int fd = -1, err = 0;
  for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // never SO_REUSEPORT
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 4096) != 0) {
      err = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) {
    if (err == EADDRINUSE)
      throw Error(cat("cannot listen on ", host, ":", port, ": the port is already in use (another helix serve?); "
                      "stop that server or choose another --port (--port 0 picks a free one)"));
    if (err == EACCES)
      throw Error(cat("cannot listen on ", host, ":", port, ": permission denied (ports below 1024 need privileges)"));
    throw Error(cat("cannot listen on ", host, ":", port, ": ", std::strerror(err)));
  }
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int bound = 0;
  peer_ip(a, bound);
  // Room for the connection cap: raise the soft descriptor limit as far as the hard one allows.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur < static_cast<rlim_t>(lim_.max_connections) + 256)
    lim_.max_connections = std::max(16, static_cast<int>(rl.rlim_cur) - 256);
  loop_->listen_fd = fd;
  loop_->ep = ::epoll_create1(EPOLL_CLOEXEC);
  loop_->wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  HELIX_CHECK(loop_->ep >= 0 && loop_->wake >= 0, "cannot create the server's event loop: ", std::strerror(errno));
  svr_sock_ = fd;  // httplib streams responses only while this is a valid socket
  return bound;
}

void HttpServer::serve() {
  HELIX_CHECK(loop_->listen_fd >= 0, "HttpServer::serve() before bind_listener()");
  loop_->run();
}

void HttpServer::stop_serving() {
  loop_->stop.store(true);
  if (loop_->wake >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(loop_->wake, &one, sizeof(one));
  }
}

HttpServer::Stats HttpServer::stats() const {
  return {loop_->open.load(), loop_->accepted.load(), loop_->refused.load(),
          loop_->evicted.load(), loop_->timed_out.load(), loop_->rejected.load()};
}

bool HttpServer::serve_one(int fd, const std::string& ip, int port, std::string request, RequestLog& log, bool close) {
  BufferedStream strm(fd, std::move(request), ip, port, lim_.write_timeout_s);
  t_log = &log;
  bool closed = false, ok = false;
  try {
    ok = process_request(strm, close, closed, nullptr);
  } catch (const std::exception&) {
    ok = false;
  }
  t_log = nullptr;
  if (log.status == 0) log.status = 499;  // the client went away before the answer was written
  if (request_logger_) request_logger_(log);
  return ok && !closed && !close && !strm.failed();
}

}  // namespace helix::server::http

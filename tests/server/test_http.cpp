// Tests of the HTTP front end without a model: request framing (limits, chunked bodies,
// pipelining, byte-at-a-time arrival) and HttpServer over real loopback sockets (statuses for
// oversized parts, deadlines, connection caps, a port in use, /health while workers are busy).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "server/http_log.h"
#include "server/http_model_card.h"
#include "server/http_request_reader.h"
#include "server/http_server.h"

namespace helix::server::http {
namespace {

using State = RequestReader::State;

TEST(HttpReader, WholeRequestWithBodyAndPipelinedNext) {
  RequestReader r;
  const std::string a = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  const std::string b = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(r.feed((a + b).data(), a.size() + b.size()), State::Complete);
  EXPECT_EQ(r.method(), "POST");
  EXPECT_EQ(r.target(), "/v1/completions");
  const std::string first = r.take_request();
  EXPECT_NE(first.find("Content-Length: 5\r\n\r\nhello"), std::string::npos);
  EXPECT_EQ(first.rfind("POST /v1/completions HTTP/1.1\r\n", 0), 0u);
  EXPECT_EQ(r.state(), State::Complete);  // the pipelined request was already there
  EXPECT_EQ(r.method(), "GET");
  EXPECT_EQ(r.take_request(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.state(), State::NeedMore);
  EXPECT_FALSE(r.started());
}

TEST(HttpReader, ByteAtATime) {
  RequestReader r;
  const std::string a = "\r\nPOST /x HTTP/1.1\nHost: x\nContent-Length: 3\n\nabc";
  for (size_t i = 0; i + 1 < a.size(); ++i) ASSERT_EQ(r.feed(&a[i], 1), State::NeedMore) << i;
  EXPECT_EQ(r.feed(&a.back(), 1), State::Complete);
  EXPECT_EQ(r.take_request(), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
}

TEST(HttpReader, ChunkedBodyIsDecoded) {
  RequestReader r;
  const std::string a =
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n";
  EXPECT_EQ(r.feed(a.data(), a.size()), State::NeedMore);
  EXPECT_TRUE(r.wants_continue());
  const std::string body = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
  for (char c : body) r.feed(&c, 1);
  ASSERT_EQ(r.state(), State::Complete);
  EXPECT_EQ(r.take_request(), "POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world");
}

TEST(HttpReader, LimitsGiveTheRightStatus) {
  ReaderLimits lim;
  lim.max_body = 100;
  auto status = [&](const std::string& s) {
    RequestReader r(lim);
    r.feed(s.data(), s.size());
    return r.state() == State::Error ? r.error_status() : 0;
  };
  EXPECT_EQ(status("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n"), 414);
  EXPECT_EQ(status("GET /" + std::string(9000, 'a')), 414);  // before its end arrives
  EXPECT_EQ(status("GET / HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n"), 431);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(status(many + "\r\n"), 431);
  std::string huge = "GET / HTTP/1.1\r\n";
  while (huge.size() < 40000) huge += "X-Long: " + std::string(4000, 'b') + "\r\n";
  EXPECT_EQ(status(huge), 431);  // no end of headers in sight
  EXPECT_EQ(status("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), 413);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n"), 413);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
  EXPECT_EQ(status("GARBAGE\r\n\r\n"), 400);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
}

TEST(HttpModelCard, FileTypeNames) {
  EXPECT_EQ(file_type_name(15), "Q4_K_M");
  EXPECT_EQ(file_type_name(1), "F16");
  EXPECT_EQ(file_type_name(32), "BF16");
  EXPECT_EQ(file_type_name(4), "");
}

TEST(HttpLog, TextAndJsonLines) {
  RequestLog r;
  r.start = std::chrono::steady_clock::now();
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.client = "127.0.0.1";
  r.status = 200;
  r.prompt_tokens = 12;
  r.completion_tokens = 8;
  r.ttft_ms = 45.04;
  const auto end = r.start + std::chrono::milliseconds(320);
  const std::string t = format_request_log(r, LogFormat::Text, false, end);
  EXPECT_NE(t.find(" 127.0.0.1 POST /v1/chat/completions 200 prompt=12 completion=8 ttft_ms=45 total_ms=320"),
            std::string::npos)
      << t;
  const std::string j = format_request_log(r, LogFormat::Json, false, end);
  EXPECT_NE(j.find("\"route\":\"/v1/chat/completions\",\"status\":200,\"prompt_tokens\":12,\"completion_tokens\":8"),
            std::string::npos)
      << j;
  EXPECT_THROW(parse_log_format("xml"), Error);
}

// --- client_key: what the per-client cap counts ----------------------------------------------

sockaddr_storage addr_of(const char* text) {
  sockaddr_storage a{};
  if (std::string(text).find(':') == std::string::npos) {
    auto& v4 = reinterpret_cast<sockaddr_in&>(a);
    v4.sin_family = AF_INET;
    EXPECT_EQ(::inet_pton(AF_INET, text, &v4.sin_addr), 1) << text;
  } else {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(a);
    v6.sin6_family = AF_INET6;
    EXPECT_EQ(::inet_pton(AF_INET6, text, &v6.sin6_addr), 1) << text;
  }
  return a;
}

TEST(ClientKey, IPv4IsTheAddressAndIPv6IsItsSlash64) {
  EXPECT_EQ(client_key(addr_of("203.0.113.7")), "203.0.113.7");
  EXPECT_EQ(client_key(addr_of("::ffff:203.0.113.7")), "203.0.113.7");
  EXPECT_EQ(client_key(addr_of("::1")), "::1");
  // Every address of one /64 is one client; the next /64 is another.
  EXPECT_EQ(client_key(addr_of("2001:db8:1:2::1")), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key(addr_of("2001:db8:1:2:ffff:ffff:ffff:ffff")), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key(addr_of("2001:db8:1:3::1")), "2001:db8:1:3::/64");
}

// --- HttpServer over loopback sockets -------------------------------------------------------

int connect_to(int port, const char* from = "127.0.0.1") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, from, &src.sin_addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)), 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// Everything the server sends until it closes or `wait_ms` passes without data.
std::string read_all(int fd, int wait_ms = 3000) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) <= 0) break;
    const ssize_t k = ::recv(fd, buf, sizeof(buf), 0);
    if (k <= 0) break;
    out.append(buf, static_cast<size_t>(k));
  }
  return out;
}

std::string ask(int port, const std::string& request, const char* from = "127.0.0.1") {
  const int fd = connect_to(port, from);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string r = read_all(fd, 1000);
  ::close(fd);
  return r;
}

struct Running {
  HttpServer srv;
  int port = 0;
  std::thread th;
  std::atomic<bool> release{false};
  explicit Running(ServerLimits lim) : srv(lim) {
    srv.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    srv.Post("/echo", [](const httplib::Request& req, httplib::Response& res) { res.set_content(req.body, "text/plain"); });
    srv.Get("/block", [this](const httplib::Request&, httplib::Response& res) {
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      res.set_content("done", "text/plain");
    });
    port = srv.bind_listener("127.0.0.1", 0);
    th = std::thread([this] { srv.serve(); });
  }
  ~Running() {
    release.store(true);
    srv.stop_serving();
    th.join();
  }
};

TEST(HttpServer, AnswersAndKeepsAlive) {
  Running r({});
  const int fd = connect_to(r.port);
  const std::string two = "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiPOST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nyo!\r\n0\r\n\r\n";
  ::send(fd, two.data(), two.size(), MSG_NOSIGNAL);
  std::string got;
  while (got.find("yo!") == std::string::npos) {
    const std::string more = read_all(fd, 2000);
    if (more.empty()) break;
    got += more;
  }
  ::close(fd);
  EXPECT_EQ(got.find("HTTP/1.1 200 OK"), 0u) << got;
  EXPECT_NE(got.find("\r\n\r\nhi"), std::string::npos);
  EXPECT_NE(got.find("\r\n\r\nyo!"), std::string::npos);
}

TEST(HttpServer, OversizedPartsGetTheirStatus) {
  ServerLimits lim;
  lim.reader.max_body = 1000;
  Running r(lim);
  EXPECT_EQ(ask(r.port, "GET /health HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n").substr(0, 12),
            "HTTP/1.1 431");
  const std::string big = ask(r.port, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_EQ(big.substr(0, 12), "HTTP/1.1 413");
  EXPECT_NE(big.find("--max-body"), std::string::npos);
}

TEST(HttpServer, SlowRequestTimesOutWith408) {
  ServerLimits lim;
  lim.request_timeout_s = 0.5;
  Running r(lim);
  const int fd = connect_to(r.port);
  ::send(fd, "GET /health HTTP/1.1\r\n", 22, MSG_NOSIGNAL);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string got = read_all(fd, 5000);
  ::close(fd);
  EXPECT_EQ(got.substr(0, 12), "HTTP/1.1 408") << got;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_EQ(r.srv.stats().timed_out, 1);
}

TEST(HttpServer, PerClientCapClosesTheOldestWaitingConnection) {
  ServerLimits lim;
  lim.max_per_client = 4;
  Running r(lim);
  std::vector<int> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(connect_to(r.port, "127.0.0.2"));
    ::send(slow.back(), "GET /health HTTP/1.1\r\n", 22, MSG_NOSIGNAL);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Another address is not affected; the flooding one holds at most 4 connections.
  EXPECT_NE(ask(r.port, "GET /health HTTP/1.1\r\n\r\n").find("\r\n\r\nok"), std::string::npos);
  int open = 0;
  for (int fd : slow) {
    pollfd p{fd, POLLIN, 0};
    char c;
    if (::poll(&p, 1, 0) == 0 || ::recv(fd, &c, 1, MSG_PEEK) > 0) ++open;
    ::close(fd);
  }
  EXPECT_EQ(open, 4);
  EXPECT_EQ(r.srv.stats().evicted, 6);
}

TEST(HttpServer, CapRefusesWith503WhenEveryConnectionIsBusy) {
  ServerLimits lim;
  lim.max_connections = 2;
  lim.workers = 4;
  Running r(lim);
  const int a = connect_to(r.port), b = connect_to(r.port);
  ::send(a, "GET /block HTTP/1.1\r\n\r\n", 23, MSG_NOSIGNAL);
  ::send(b, "GET /block HTTP/1.1\r\n\r\n", 23, MSG_NOSIGNAL);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string refused = ask(r.port, "GET /health HTTP/1.1\r\n\r\n");
  EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 503") << refused;
  r.release.store(true);
  EXPECT_NE(read_all(a).find("done"), std::string::npos);
  ::close(a);
  ::close(b);
}

TEST(HttpServer, HealthAnsweredWhileEveryWorkerIsBusy) {
  ServerLimits lim;
  lim.workers = 2;
  lim.cheap_workers = 1;
  Running r(lim);
  std::vector<int> busy;
  for (int i = 0; i < 4; ++i) {
    busy.push_back(connect_to(r.port));
    ::send(busy.back(), "GET /block HTTP/1.1\r\n\r\n", 23, MSG_NOSIGNAL);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_NE(ask(r.port, "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n").find("\r\n\r\nok"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  r.release.store(true);
  for (int fd : busy) ::close(fd);
}

TEST(HttpServer, PortInUseIsAClearError) {
  Running r({});
  HttpServer second({});
  try {
    second.bind_listener("127.0.0.1", r.port);
    FAIL() << "bound a port in use";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already in use"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace helix::server::http

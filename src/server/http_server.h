// HttpServer: cpp-httplib's routing, handlers and streaming behind an event-driven front end
// that a slow or hostile client cannot exhaust.
//
// cpp-httplib gives every connection a blocking worker thread from accept on, so clients that
// send their headers slowly (slowloris) hold every thread and nothing else is served. Here one
// epoll thread owns the listening socket and every connection while a request arrives:
// non-blocking reads into a RequestReader, a cap on open connections and on connections per
// client address (at a cap the longest-waiting connection that is not being served is closed;
// when every connection is being served the new one gets 503), a deadline for the request line,
// headers and body (408), an idle keep-alive timeout, 414/431/413 for oversized parts. Only a
// complete request reaches a worker thread, which hands it to httplib::Server::process_request
// through a Stream that reads from the buffered request and writes to the socket with a
// timeout. Cheap routes (/health, /metrics, /v1/models, CORS preflight) have their own small
// pool, so they are answered while every generation worker is busy streaming. A kept-alive
// connection goes back to the epoll thread between requests.
//
// The listening socket uses SO_REUSEADDR only (never SO_REUSEPORT): a second server on a port
// in use fails to bind instead of sharing it.
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/http_request_reader.h"

namespace helix::server::http {

struct ServerLimits {
  int max_connections = 1024;        // open client connections at most
  int max_per_client = 64;           // from one client address at most
  double request_timeout_s = 10;     // to receive request line, headers and body
  double keep_alive_s = 5;           // idle time between requests on a connection
  double write_timeout_s = 60;       // one write to a client that does not read
  int max_requests_per_connection = 1000;
  int workers = 32;                  // threads for generation and other requests
  int cheap_workers = 4;             // threads for /health, /metrics, /v1/models, OPTIONS
  ReaderLimits reader;
};

// Facts about one request for its log line, filled by whoever knows them (the handlers, through
// current_request_log(), and the server).
struct RequestLog {
  std::chrono::steady_clock::time_point start;  // first byte of the request
  std::string method, path, client;
  int status = 0;
  int64_t prompt_tokens = -1, completion_tokens = -1;  // -1: not a generation request
  double ttft_ms = -1;
  size_t body_bytes = 0;
  std::string user_agent;
};
// The log record of the request this thread is serving (nullptr outside a request).
RequestLog* current_request_log();

// What the per-client connection cap counts for a peer address: an IPv4 address as itself
// (IPv4-mapped IPv6 too), an IPv6 address by its /64 prefix ("2001:db8:1:2::/64"), since one
// subscriber or host usually holds a whole /64 and could otherwise open 64 connections from each
// of its 2^64 addresses.
std::string client_key(const sockaddr_storage& addr);

// A connection-level event for verbose logs: refused, evicted, timed out, malformed.
using ConnectionLogger = std::function<void(const std::string& client, const std::string& what)>;

class HttpServer : public httplib::Server {
 public:
  explicit HttpServer(ServerLimits limits);
  ~HttpServer() override;

  // Binds host:port (port 0: any free port). Throws helix::Error with a clear message when the
  // address is in use or cannot be bound. Returns the port bound.
  int bind_listener(const std::string& host, int port);
  // Serves until stop(); the accept loop runs on the calling thread.
  void serve();
  // Answers every later request with Connection: close and closes idle connections.
  void begin_drain() { draining_.store(true); }
  bool draining() const { return draining_.load(); }
  // Stops the loop, closes every connection and joins the workers (call once in-flight
  // requests are done).
  void stop_serving();

  void set_request_logger(std::function<void(const RequestLog&)> f) { request_logger_ = std::move(f); }
  void set_connection_logger(ConnectionLogger f) { connection_logger_ = std::move(f); }

  struct Stats {
    int64_t open = 0, accepted = 0, refused = 0, evicted = 0, timed_out = 0, rejected = 0;
  };
  Stats stats() const;

 private:
  struct Loop;
  std::unique_ptr<Loop> loop_;
  ServerLimits lim_;
  std::atomic<bool> draining_{false};
  std::function<void(const RequestLog&)> request_logger_;
  ConnectionLogger connection_logger_;

  friend struct Loop;
  // Runs one complete request on a worker thread; true when the connection may be kept.
  bool serve_one(int fd, const std::string& ip, int port, std::string request, RequestLog& log, bool close);
};

}  // namespace helix::server::http

// Framing of one HTTP/1.x request from bytes that arrive in pieces, with limits, for the
// event-driven front end (http_server.h): it says when a request is complete (request line,
// headers, then a Content-Length or chunked body) or what is wrong with it as an HTTP status
// (400, 413, 414, 431, 501), without a thread waiting on the socket. The complete request is
// handed on re-framed for cpp-httplib: a chunked body decoded and given a Content-Length,
// `Expect` dropped (the front end answers 100-continue itself).
//
//   RequestReader r(limits);
//   r.feed(data, n);                     // as bytes arrive
//   if (r.state() == RequestReader::State::Complete) { std::string req = r.take_request(); ... }
#pragma once

#include <cstddef>
#include <string>

namespace helix::server::http {

struct ReaderLimits {
  size_t max_request_line = 8192;  // 414 beyond (cpp-httplib's own URI limit)
  size_t max_header_line = 8192;   // 431 beyond (cpp-httplib refuses longer lines with a bare 400)
  size_t max_header_bytes = 32768;  // request line and headers together; 431 beyond
  size_t max_headers = 100;         // header fields; 431 beyond
  size_t max_body = 8u << 20;       // 413 beyond, declared or decoded
};

class RequestReader {
 public:
  enum class State { NeedMore, Complete, Error };

  explicit RequestReader(ReaderLimits limits = {}) : lim_(limits) {}

  // Appends received bytes and advances; returns the new state. Bytes past the end of a
  // complete request are kept for the next one (pipelining).
  State feed(const char* data, size_t n);
  State state() const { return state_; }
  // True once any byte of the current request has arrived.
  bool started() const { return !buf_.empty(); }
  bool headers_done() const { return phase_ != Phase::Head; }
  // The client sent `Expect: 100-continue` and its body has not arrived yet.
  bool wants_continue() const { return expect_continue_ && phase_ != Phase::Head && state_ == State::NeedMore; }

  // When Error: the status to answer with and a sentence saying what was wrong.
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

  const std::string& method() const { return method_; }
  const std::string& target() const { return target_; }  // path and query as sent
  size_t body_size() const { return body_.size(); }

  // When Complete: the request as cpp-httplib should read it, and resets for the next request
  // (feeding it the bytes that followed this one). Returns the state after the reset.
  std::string take_request();

 private:
  enum class Phase { Head, Body, ChunkSize, ChunkData, ChunkEnd, Trailer, Done };
  State fail(int status, std::string message);
  State advance();
  State parse_head(size_t head_end, size_t body_start);
  State read_chunked();

  ReaderLimits lim_;
  State state_ = State::NeedMore;
  Phase phase_ = Phase::Head;
  std::string buf_;        // raw bytes of the current request (and any after it)
  size_t pos_ = 0;         // parse position in buf_ (body phases)
  std::string head_;       // re-framed request line and headers, without the final CRLF
  std::string body_;       // decoded body
  size_t content_length_ = 0;
  size_t chunk_left_ = 0;
  bool expect_continue_ = false;
  bool chunked_ = false;
  size_t scan_ = 0, scan_lines_ = 0;  // header lines already checked (Head phase)
  std::string method_, target_;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace helix::server::http

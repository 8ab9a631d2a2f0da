// Incremental framing of HTTP/1.x requests with limits (see http_request_reader.h).
#include "server/http_request_reader.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace helix::server::http {
namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The line in buf starting at `from` without its CRLF or LF; npos end when no LF arrived yet.
size_t line_end(const std::string& buf, size_t from) { return buf.find('\n', from); }

std::string_view line_at(const std::string& buf, size_t from, size_t lf) {
  size_t end = lf;
  if (end > from && buf[end - 1] == '\r') --end;
  return std::string_view(buf).substr(from, end - from);
}

}  // namespace

RequestReader::State RequestReader::fail(int status, std::string message) {
  state_ = State::Error;
  error_status_ = status;
  error_message_ = std::move(message);
  return state_;
}

RequestReader::State RequestReader::feed(const char* data, size_t n) {
  if (state_ != State::NeedMore) {
    buf_.append(data, n);  // kept for after take_request()
    return state_;
  }
  buf_.append(data, n);
  return advance();
}

RequestReader::State RequestReader::advance() {
  if (phase_ == Phase::Head) {
    // Empty lines before the request line are ignored (RFC 9112 section 2.2).
    while (pos_ < buf_.size() && (buf_[pos_] == '\r' || buf_[pos_] == '\n')) ++pos_;
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    size_t& from = scan_;
    size_t& lines = scan_lines_;
    for (;;) {
      const size_t lf = line_end(buf_, from);
      if (lf == std::string::npos) {
        const size_t partial = buf_.size() - from;
        if (lines == 0 && partial > lim_.max_request_line)
          return fail(414, cat("the request line is longer than ", lim_.max_request_line, " bytes"));
        if (lines > 0 && partial > lim_.max_header_line)
          return fail(431, cat("a header line is longer than ", lim_.max_header_line, " bytes"));
        if (buf_.size() > lim_.max_header_bytes)
          return fail(431, cat("the request headers are larger than ", lim_.max_header_bytes, " bytes"));
        return state_;
      }
      const std::string_view line = line_at(buf_, from, lf);
      if (lines == 0 && line.size() > lim_.max_request_line)
        return fail(414, cat("the request line is longer than ", lim_.max_request_line, " bytes"));
      if (lines > 0 && line.size() > lim_.max_header_line)
        return fail(431, cat("a header line is longer than ", lim_.max_header_line, " bytes"));
      if (lf + 1 > lim_.max_header_bytes)
        return fail(431, cat("the request headers are larger than ", lim_.max_header_bytes, " bytes"));
      if (line.empty()) {
        if (parse_head(from, lf + 1) == State::Error) return state_;
        break;
      }
      if (++lines > lim_.max_headers + 1)
        return fail(431, cat("the request has more than ", lim_.max_headers, " header fields"));
      from = lf + 1;
    }
  }
  if (phase_ == Phase::Body && buf_.size() - pos_ >= content_length_) {
    body_.assign(buf_, pos_, content_length_);
    pos_ += content_length_;
    phase_ = Phase::Done;
  }
  if (phase_ == Phase::ChunkSize || phase_ == Phase::ChunkData || phase_ == Phase::ChunkEnd || phase_ == Phase::Trailer) {
    if (read_chunked() == State::Error) return state_;
  }
  if (phase_ == Phase::Done) state_ = State::Complete;
  return state_;
}

RequestReader::State RequestReader::parse_head(size_t head_end, size_t body_start) {
  std::vector<std::string_view> lines;
  for (size_t from = 0; from < head_end;) {
    const size_t lf = line_end(buf_, from);
    lines.push_back(line_at(buf_, from, lf));
    from = lf + 1;
  }
  const std::string_view rl = lines[0];
  const size_t sp1 = rl.find(' '), sp2 = rl.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 || rl.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0)
    return fail(400, "the request line must read 'METHOD TARGET HTTP/1.x'");
  method_ = std::string(rl.substr(0, sp1));
  target_ = std::string(trim(rl.substr(sp1 + 1, sp2 - sp1 - 1)));
  if (method_.empty() || target_.empty() || target_.find(' ') != std::string::npos)
    return fail(400, "the request line must read 'METHOD TARGET HTTP/1.x'");

  head_.assign(rl);
  head_ += "\r\n";
  bool has_length = false, chunked = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view l = lines[i];
    const size_t colon = l.find(':');
    if (l.front() == ' ' || l.front() == '\t' || colon == std::string_view::npos || colon == 0 ||
        l.substr(0, colon).find_first_of(" \t") != std::string_view::npos)
      return fail(400, cat("malformed header line '", l.substr(0, 64), "'"));
    const std::string name = lower(l.substr(0, colon));
    const std::string_view value = trim(l.substr(colon + 1));
    if (name == "content-length") {
      if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail(400, cat("Content-Length must be a number of bytes, got '", value.substr(0, 32), "'"));
      const size_t n = std::stoull(std::string(value));
      if (has_length && n != content_length_) return fail(400, "the request has two different Content-Length headers");
      has_length = true;
      content_length_ = n;
      continue;
    }
    if (name == "transfer-encoding") {
      if (lower(value) != "chunked")
        return fail(501, cat("Transfer-Encoding '", value.substr(0, 32),
                             "' is not supported; send the body with Content-Length or chunked"));
      chunked = true;
      continue;
    }
    if (name == "expect") {
      expect_continue_ = lower(value) == "100-continue";
      continue;
    }
    head_.append(l);
    head_ += "\r\n";
  }
  pos_ = body_start;
  if (chunked) {
    content_length_ = 0;  // a chunked body's framing wins over a Content-Length (RFC 9112 6.3)
    phase_ = Phase::ChunkSize;
  } else if (has_length && content_length_ > lim_.max_body) {
    return fail(413, cat("the request body is too large: ", content_length_, " bytes, the limit is ", lim_.max_body,
                         " (helix serve --max-body)"));
  } else {
    phase_ = has_length && content_length_ > 0 ? Phase::Body : Phase::Done;
  }
  chunked_ = chunked;
  return state_;
}

RequestReader::State RequestReader::read_chunked() {
  for (;;) {
    if (phase_ == Phase::ChunkSize) {
      const size_t lf = line_end(buf_, pos_);
      if (lf == std::string::npos) {
        if (buf_.size() - pos_ > 1024) return fail(400, "a chunk-size line of the chunked body is too long");
        return state_;
      }
      const std::string_view l = line_at(buf_, pos_, lf);
      size_t size = 0, digits = 0;
      for (char c : l) {
        const int d = std::isxdigit(static_cast<unsigned char>(c)) ? (std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10)) : -1;
        if (d < 0) break;
        if (++digits > 15) return fail(400, "a chunk size of the chunked body is too large");
        size = size * 16 + static_cast<size_t>(d);
      }
      if (digits == 0) return fail(400, "malformed chunked body: a chunk size must be hexadecimal");
      if (size > lim_.max_body - body_.size())
        return fail(413, cat("the request body is too large: more than ", lim_.max_body, " bytes (helix serve --max-body)"));
      pos_ = lf + 1;
      chunk_left_ = size;
      phase_ = size == 0 ? Phase::Trailer : Phase::ChunkData;
    } else if (phase_ == Phase::ChunkData) {
      const size_t take = std::min(chunk_left_, buf_.size() - pos_);
      body_.append(buf_, pos_, take);
      pos_ += take;
      chunk_left_ -= take;
      if (chunk_left_ > 0) return state_;
      phase_ = Phase::ChunkEnd;
    } else if (phase_ == Phase::ChunkEnd) {
      if (pos_ >= buf_.size()) return state_;
      if (buf_[pos_] == '\r') {
        if (pos_ + 1 >= buf_.size()) return state_;
        ++pos_;
      }
      if (buf_[pos_] != '\n') return fail(400, "malformed chunked body: a chunk must end with CRLF");
      ++pos_;
      phase_ = Phase::ChunkSize;
    } else if (phase_ == Phase::Trailer) {
      const size_t lf = line_end(buf_, pos_);
      if (lf == std::string::npos) {
        if (buf_.size() - pos_ > lim_.max_header_line) return fail(431, "a trailer line of the chunked body is too long");
        return state_;
      }
      const bool empty = line_at(buf_, pos_, lf).empty();
      pos_ = lf + 1;  // trailer fields are read and dropped
      if (empty) {
        phase_ = Phase::Done;
        return state_;
      }
    } else {
      return state_;
    }
  }
}

std::string RequestReader::take_request() {
  std::string out = std::move(head_);
  if (!body_.empty() || content_length_ > 0 || chunked_) out += cat("Content-Length: ", body_.size(), "\r\n");
  out += "\r\n";
  out += body_;
  std::string rest = buf_.substr(pos_);
  *this = RequestReader(lim_);
  if (!rest.empty()) feed(rest.data(), rest.size());
  return out;
}

}  // namespace helix::server::http

// One log line per request on stderr: time, method, route, status, prompt and completion tokens,
// time to first token and total milliseconds, as text or as one JSON object per line.
//
//   2026-12-03T14:30:01.123Z 127.0.0.1 POST /v1/chat/completions 200 prompt=12 completion=8 ttft_ms=45.1 total_ms=320.4
//   {"time":"2026-12-03T14:30:01.123Z","client":"127.0.0.1","method":"POST","route":"/v1/chat/completions",...}
#pragma once

#include <chrono>
#include <string>

#include "server/http_server.h"

namespace helix::server::http {

enum class LogFormat { Text, Json };

// Parses "text" or "json"; throws helix::Error naming the allowed values.
LogFormat parse_log_format(const std::string& s);

// The line for one finished request (no trailing newline); `end` is when it finished.
std::string format_request_log(const RequestLog& r, LogFormat fmt, bool verbose,
                               std::chrono::steady_clock::time_point end);
// A connection event (verbose only): refused, evicted, timed out.
std::string format_connection_log(const std::string& client, const std::string& what, LogFormat fmt);

// Writes one line to stderr atomically with respect to other log lines.
void write_log_line(const std::string& line);

}  // namespace helix::server::http

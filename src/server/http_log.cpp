// Per-request log lines (see http_log.h).
#include "server/http_log.h"

#include <cstdio>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace helix::server::http {
namespace {

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

double round1(double x) { return static_cast<double>(static_cast<int64_t>(x * 10 + 0.5)) / 10; }

}  // namespace

LogFormat parse_log_format(const std::string& s) {
  if (s == "text") return LogFormat::Text;
  if (s == "json") return LogFormat::Json;
  throw Error(cat("--log-format must be 'text' or 'json', got '", s, "'"));
}

std::string format_request_log(const RequestLog& r, LogFormat fmt, bool verbose,
                               std::chrono::steady_clock::time_point end) {
  const double total_ms = round1(std::chrono::duration<double, std::milli>(end - r.start).count());
  if (fmt == LogFormat::Json) {
    nlohmann::ordered_json j = {{"time", utc_now()}, {"client", r.client},  {"method", r.method},
                                {"route", r.path},   {"status", r.status}};
    if (r.prompt_tokens >= 0) j["prompt_tokens"] = r.prompt_tokens;
    if (r.completion_tokens >= 0) j["completion_tokens"] = r.completion_tokens;
    if (r.ttft_ms >= 0) j["ttft_ms"] = round1(r.ttft_ms);
    j["total_ms"] = total_ms;
    if (verbose) {
      j["body_bytes"] = r.body_bytes;
      j["user_agent"] = r.user_agent;
    }
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  std::string s = cat(utc_now(), " ", r.client, " ", r.method, " ", r.path, " ", r.status);
  if (r.prompt_tokens >= 0) s += cat(" prompt=", r.prompt_tokens);
  if (r.completion_tokens >= 0) s += cat(" completion=", r.completion_tokens);
  if (r.ttft_ms >= 0) s += cat(" ttft_ms=", round1(r.ttft_ms));
  s += cat(" total_ms=", total_ms);
  if (verbose) s += cat(" body_bytes=", r.body_bytes, " user_agent=\"", r.user_agent, "\"");
  return s;
}

std::string format_connection_log(const std::string& client, const std::string& what, LogFormat fmt) {
  if (fmt == LogFormat::Json)
    return nlohmann::ordered_json{{"time", utc_now()}, {"client", client}, {"event", what}}.dump(
        -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return cat(utc_now(), " ", client.empty() ? "-" : client, " connection: ", what);
}

void write_log_line(const std::string& line) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lk(mu);
  std::fputs((line + "\n").c_str(), stderr);
}

}  // namespace helix::server::http

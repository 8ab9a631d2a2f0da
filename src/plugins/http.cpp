// HTTP for plugins (see http.h).
#include "plugins/http.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace helix::plugins {

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
}  // namespace

std::string Url::origin() const {
  return cat(scheme, "://", host.find(':') != std::string::npos ? "[" + host + "]" : host, ":", port);
}

Url parse_url(const std::string& url) {
  Url u;
  const size_t sep = url.find("://");
  HELIX_CHECK(sep != std::string::npos, "'", url, "' is not a URL (expected http://host[:port]/path)");
  u.scheme = lower(url.substr(0, sep));
  HELIX_CHECK(u.scheme == "http" || u.scheme == "https", "'", url, "': only http and https URLs are supported");
  const size_t path = url.find_first_of("/?#", sep + 3);
  std::string authority = url.substr(sep + 3, path == std::string::npos ? std::string::npos : path - sep - 3);
  HELIX_CHECK(authority.find('@') == std::string::npos, "'", url,
              "': credentials in the URL are not supported; put the key in the manifest's [auth]");
  u.port = u.scheme == "https" ? 443 : 80;
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    HELIX_CHECK(close != std::string::npos, "'", url, "': unclosed '[' in the host");
    u.host = authority.substr(1, close - 1);
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority[0] == ':') authority = authority.substr(1);
    else authority.clear();
    if (!authority.empty()) u.port = std::stoi(authority);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    u.host = authority.substr(0, colon);
    const std::string p = authority.substr(colon + 1);
    HELIX_CHECK(!p.empty() && p.size() <= 5 && std::all_of(p.begin(), p.end(), ::isdigit), "'", url, "': bad port '", p, "'");
    u.port = std::stoi(p);
  } else {
    u.host = authority;
  }
  HELIX_CHECK(!u.host.empty(), "'", url, "' has no host");
  HELIX_CHECK(u.port > 0 && u.port < 65536, "'", url, "': bad port");
  u.host = lower(u.host);
  u.target = path == std::string::npos ? "/" : url.substr(path);
  if (const size_t hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (u.target.empty() || u.target[0] != '/') u.target = "/" + u.target;
  return u;
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string HttpResponse::header(const std::string& name) const {
  const std::string n = lower(name);
  for (const auto& [k, v] : headers)
    if (lower(k) == n) return v;
  return "";
}

void check_host(const Url& url, const std::vector<std::string>& hosts) {
  for (const auto& h : hosts)
    if (lower(h) == url.host) return;
  std::string list;
  for (const auto& h : hosts) list += (list.empty() ? "" : ", ") + h;
  throw Error(cat("the host ", url.host, " is not allowed for this plugin (allowed: ", list.empty() ? "none" : list,
                  "); add it to the manifest's permissions.hosts if it should be"));
}

HttpResponse http_send(const HttpRequest& req) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(req.timeout_s));
  httplib::Client cli(req.url.origin());
  const auto t = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(req.timeout_s));
  cli.set_connection_timeout(t.count() / 1000000, t.count() % 1000000);
  cli.set_read_timeout(t.count() / 1000000, t.count() % 1000000);
  cli.set_write_timeout(t.count() / 1000000, t.count() % 1000000);
  cli.set_follow_location(false);
  cli.set_keep_alive(false);

  httplib::Request r;
  r.method = req.method;
  r.path = req.url.target;
  for (const auto& [k, v] : req.headers) r.headers.emplace(k, v);
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    r.body = req.body;
    r.headers.emplace("Content-Type", req.content_type.empty() ? "application/json" : req.content_type);
  }
  HttpResponse out;
  bool too_big = false, too_slow = false;
  r.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (out.body.size() + n > req.max_bytes) return too_big = true, false;
    if (Clock::now() > deadline) return too_slow = true, false;
    out.body.append(data, n);
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool ok = cli.send(r, res, err);
  if (too_big) throw Error(cat("the response from ", req.url.host, " is larger than the plugin's limit of ", req.max_bytes, " bytes"));
  if (too_slow || (!ok && Clock::now() >= deadline))
    throw Error(cat("no complete answer from ", req.url.origin(), " within ", req.timeout_s, " s (the plugin's timeout)"));
  if (!ok && err == httplib::Error::Read)
    throw Error(cat("the connection to ", req.url.origin(), " closed before a complete answer (the service may have crashed)"));
  if (!ok) throw Error(cat("cannot reach ", req.url.origin(), ": ", httplib::to_string(err)));
  out.status = res.status;
  for (const auto& [k, v] : res.headers) out.headers.emplace(k, v);
  return out;
}

}  // namespace helix::plugins

// HTTP for plugins (cpp-httplib): URLs, one request with a total deadline and a response size
// limit, and the allowed-hosts rule (a plugin only talks to the hosts its manifest allows).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace helix::plugins {

struct Url {
  std::string scheme;  // http or https
  std::string host;
  int port = 0;
  std::string target;  // path plus query, starting with '/'
  std::string origin() const;  // scheme://host:port
};
// Throws helix::Error naming what is wrong (only http and https).
Url parse_url(const std::string& url);
std::string url_encode(const std::string& s);

struct HttpRequest {
  std::string method = "GET";
  Url url;
  std::multimap<std::string, std::string> headers;
  std::string body, content_type;
  double timeout_s = 30;             // the whole exchange, connect to last byte
  size_t max_bytes = 1 << 20;        // of the response body
};
struct HttpResponse {
  int status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;
  std::string header(const std::string& name) const;  // case-insensitive; "" when absent
};
// Sends the request; throws helix::Error for connection failures, the deadline and an over-size
// body (a 4xx/5xx is a response, not an error).
HttpResponse http_send(const HttpRequest& req);

// Throws unless `url`'s host is one of `hosts` (case-insensitive).
void check_host(const Url& url, const std::vector<std::string>& hosts);

}  // namespace helix::plugins

// The /mcp route (see http_mcp.h).
#include "server/http_mcp.h"

#include <deque>
#include <mutex>
#include <random>
#include <set>

namespace helix::server {

namespace {

using ojson = nlohmann::ordered_json;

// Session ids handed out by initialize (the newest 4096 are kept).
class Sessions {
 public:
  std::string open() {
    static constexpr char hex[] = "0123456789abcdef";
    std::lock_guard<std::mutex> lk(mu_);
    std::string id;
    for (int i = 0; i < 32; ++i) id += hex[rng_() % 16];
    ids_.insert(id);
    order_.push_back(id);
    if (order_.size() > 4096) ids_.erase(order_.front()), order_.pop_front();
    return id;
  }
  bool known(const std::string& id) {
    std::lock_guard<std::mutex> lk(mu_);
    return ids_.count(id) > 0;
  }
  bool close(const std::string& id) {
    std::lock_guard<std::mutex> lk(mu_);
    return ids_.erase(id) > 0;
  }

 private:
  std::mutex mu_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::set<std::string> ids_;
  std::deque<std::string> order_;
};

void reply(httplib::Response& res, int status, const ojson& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

bool is_initialize(const ojson& m) {
  auto one = [](const ojson& x) { return x.is_object() && x.value("method", "") == "initialize"; };
  if (m.is_array()) {
    for (const auto& x : m)
      if (one(x)) return true;
    return false;
  }
  return one(m);
}

}  // namespace

void add_mcp_routes(http::HttpServer& svr, std::shared_ptr<mcp::Server> mcp,
                    std::function<bool(const std::string& origin)> origin_allowed) {
  auto sessions = std::make_shared<Sessions>();
  auto origin_refused = [origin_allowed](const httplib::Request& req, httplib::Response& res) {
    const std::string origin = req.get_header_value("Origin");
    if (origin.empty() || origin_allowed(origin)) return false;
    reply(res, 403, mcp::error_reply(nullptr, -32600, "requests from origin '" + origin + "' are not allowed (see --cors)"));
    return true;
  };
  svr.Post("/mcp", [mcp, sessions, origin_refused](const httplib::Request& req, httplib::Response& res) {
    if (origin_refused(req, res)) return;
    const ojson msg = ojson::parse(req.body, nullptr, false);
    if (msg.is_discarded()) return reply(res, 400, mcp::error_reply(nullptr, -32700, "the request body is not valid JSON"));
    const std::string version = req.get_header_value("MCP-Protocol-Version");
    if (!version.empty() && mcp::negotiate_version(version) != version)
      return reply(res, 400, mcp::error_reply(nullptr, -32600, "unsupported MCP-Protocol-Version '" + version + "'"));
    const std::string sid = req.get_header_value("Mcp-Session-Id");
    if (is_initialize(msg)) {
      res.set_header("Mcp-Session-Id", sessions->open());
    } else if (sid.empty()) {
      return reply(res, 400, mcp::error_reply(nullptr, -32600, "missing Mcp-Session-Id header: send initialize first"));
    } else if (!sessions->known(sid)) {
      return reply(res, 404, mcp::error_reply(nullptr, -32600, "unknown or ended MCP session; send initialize again"));
    }
    const ojson out = mcp->handle(msg);
    if (out.is_null()) {
      res.status = 202;  // notifications and responses only
      return;
    }
    reply(res, 200, out);
  });
  svr.Get("/mcp", [origin_refused](const httplib::Request& req, httplib::Response& res) {
    if (origin_refused(req, res)) return;
    res.set_header("Allow", "POST, DELETE");
    reply(res, 405, mcp::error_reply(nullptr, -32600, "this server opens no event stream: POST JSON-RPC messages to /mcp"));
  });
  svr.Delete("/mcp", [sessions, origin_refused](const httplib::Request& req, httplib::Response& res) {
    if (origin_refused(req, res)) return;
    if (sessions->close(req.get_header_value("Mcp-Session-Id"))) {
      res.status = 200;
      return;
    }
    reply(res, 404, mcp::error_reply(nullptr, -32600, "unknown or ended MCP session"));
  });
}

}  // namespace helix::server

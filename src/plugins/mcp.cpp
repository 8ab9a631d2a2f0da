// The MCP client executor (see mcp.h): initialize, tools/list, tools/call over a transport.
#include "plugins/mcp.h"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "core/error.h"
#include "mcp/mcp.h"
#include "plugins/http.h"

namespace helix::plugins {

namespace {

class McpClient : public Executor {
 public:
  explicit McpClient(const Manifest& m) : m_(m), secret_(read_secret(m.auth)) {}

  std::vector<ToolSpec> tools() override {
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<ToolSpec> out;
    ojson cursor;
    for (int page = 0; page < 100; ++page) {
      ojson params = ojson::object();
      if (!cursor.is_null()) params["cursor"] = cursor;
      const ojson r = rpc("tools/list", params);
      HELIX_CHECK(r.contains("tools") && r["tools"].is_array(), where(), " answered tools/list without a tools array");
      for (const auto& t : r["tools"]) {
        HELIX_CHECK(t.is_object() && t.contains("name") && t["name"].is_string(), where(), " listed a tool without a name");
        ToolSpec s;
        s.name = t["name"].get<std::string>();
        s.description = t.value("description", "");
        s.parameters = t.contains("inputSchema") && t["inputSchema"].is_object() ? t["inputSchema"]
                                                                                   : ojson{{"type", "object"}};
        if (auto a = t.find("annotations"); a != t.end() && a->is_object())
          s.write = a->value("destructiveHint", false) && !a->value("readOnlyHint", false);
        out.push_back(std::move(s));
      }
      cursor = r.contains("nextCursor") && r["nextCursor"].is_string() && !r["nextCursor"].get<std::string>().empty()
                   ? r["nextCursor"]
                   : ojson();
      if (cursor.is_null()) return out;
    }
    throw Error(cat(where(), " returned more than 100 pages of tools"));
  }

  ToolResult call(const std::string& tool, const ojson& arguments) override {
    std::lock_guard<std::mutex> lk(mu_);
    const ojson r = rpc("tools/call", {{"name", tool}, {"arguments", arguments}});
    ToolResult out;
    out.ok = !r.value("isError", false);
    std::string text;
    if (auto c = r.find("content"); c != r.end() && c->is_array()) {
      for (const auto& part : *c) {
        const std::string type = part.value("type", "");
        std::string piece;
        if (type == "text") piece = part.value("text", "");
        else if (type == "resource" && part.contains("resource")) piece = part["resource"].value("text", "[binary resource]");
        else if (type == "resource_link") piece = cat("[resource ", part.value("uri", ""), "]");
        else piece = cat("[", type.empty() ? "unknown" : type, " content]");
        text += (text.empty() ? "" : "\n") + piece;
      }
    }
    if (text.empty() && r.contains("structuredContent")) text = r["structuredContent"].dump();
    out.text = redact(text, secret_);
    return out;
  }

 private:
  std::string where() const { return cat("the MCP server of plugin '", m_.name, "'"); }

  void connect() {
    if (t_) return;
    if (m_.kind == Kind::kMcpStdio) {
      std::vector<std::pair<std::string, std::string>> env;
      // The key reaches a stdio server in its environment, under auth.env's name (or auth.name).
      if (!secret_.empty()) env.emplace_back(m_.auth.env.empty() ? (m_.auth.name.empty() ? "MCP_API_KEY" : m_.auth.name)
                                                                 : m_.auth.env, secret_);
      t_ = mcp_stdio(m_.command, env, m_.max_response_bytes);
    } else {
      std::vector<std::pair<std::string, std::string>> headers;
      std::string url = m_.url;
      if (m_.auth.type == "bearer") headers.emplace_back("Authorization", "Bearer " + secret_);
      if (m_.auth.type == "header") headers.emplace_back(m_.auth.name, secret_);
      if (m_.auth.type == "query")
        url += (url.find('?') == std::string::npos ? "?" : "&") + url_encode(m_.auth.name) + "=" + url_encode(secret_);
      t_ = mcp_http(url, std::move(headers), m_.max_response_bytes);
    }
    const auto& versions = mcp::protocol_versions();  // the server side's list, oldest first
    // Starting a server (a Python interpreter importing its SDK) can take longer than a call may.
    const ojson init = send("initialize", {{"protocolVersion", versions.back()},
                                           {"capabilities", ojson::object()},
                                           {"clientInfo", {{"name", "helix"}, {"version", "0.1"}}}},
                            std::max(m_.timeout_s, 60.0));
    const std::string v = init.value("protocolVersion", "");
    bool known = false;
    for (const auto& x : versions) known = known || x == v;
    if (!known) {
      t_.reset();
      std::string list;
      for (const auto& x : versions) list += (list.empty() ? "" : ", ") + x;
      throw Error(cat(where(), " speaks MCP protocol version '", v, "', which Helix does not (it speaks ", list, ")"));
    }
    version_ = v;
    t_->set_protocol_version(v);
    t_->notify({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  }

  ojson send(const std::string& method, const ojson& params, double timeout_s = 0) {
    const ojson msg = {{"jsonrpc", "2.0"}, {"id", next_id_++}, {"method", method}, {"params", params}};
    const ojson r = t_->request(msg, timeout_s > 0 ? timeout_s : m_.timeout_s);
    if (auto e = r.find("error"); e != r.end()) {
      const std::string text = e->is_object() ? e->value("message", e->dump()) : e->dump();
      const int code = e->is_object() && (*e)["code"].is_number_integer() ? (*e)["code"].get<int>() : 0;
      throw Error(cat(where(), " answered ", method, " with error ", code, ": ", redact(text, secret_)));
    }
    HELIX_CHECK(r.contains("result") && r["result"].is_object(), where(), " answered ", method, " without a result object");
    return r["result"];
  }

  // A request on a connected session; a broken connection is dropped so the next call reconnects.
  ojson rpc(const std::string& method, const ojson& params) {
    try {
      connect();
      return send(method, params);
    } catch (const std::exception& e) {
      const std::string what = e.what();
      // JSON-RPC errors leave the session usable; transport failures do not.
      if (what.find(" answered " + method + " with error ") == std::string::npos) t_.reset();
      throw Error(redact(what, secret_));
    }
  }

  Manifest m_;
  std::string secret_;
  std::unique_ptr<McpTransport> t_;
  std::string version_;
  int64_t next_id_ = 1;
  std::mutex mu_;
};

}  // namespace

std::unique_ptr<Executor> make_mcp_client(const Manifest& m) { return std::make_unique<McpClient>(m); }

}  // namespace helix::plugins

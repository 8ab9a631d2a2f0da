// MCP's JSON-RPC methods and the stdio transport (see mcp.h).
#include <condition_variable>
#include <istream>
#include <ostream>
#include <thread>

#include "mcp/mcp.h"

namespace helix::mcp {

namespace {

constexpr int kParseError = -32700, kInvalidRequest = -32600, kMethodNotFound = -32601, kInvalidParams = -32602,
              kInternalError = -32603;

bool is_request(const ojson& m) { return m.is_object() && m.contains("id") && !m["id"].is_null(); }

}  // namespace

const std::vector<std::string>& protocol_versions() {
  static const std::vector<std::string> v = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};
  return v;
}

std::string negotiate_version(const std::string& requested) {
  for (const auto& v : protocol_versions())
    if (v == requested) return v;
  return protocol_versions().back();
}

ojson error_reply(const ojson& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

Server::Server(std::string name, std::string version, std::string instructions)
    : name_(std::move(name)), version_(std::move(version)), instructions_(std::move(instructions)) {}

void Server::add_tool(Tool t) {
  for (const auto& x : tools_) HELIX_CHECK(x.name != t.name, "MCP tool '", t.name, "' is added twice");
  tools_.push_back(std::move(t));
}

ojson Server::call_tool(const ojson& params) {
  if (!params.is_object() || !params.contains("name") || !params["name"].is_string())
    throw std::invalid_argument("tools/call needs params {\"name\": TOOL, \"arguments\": {...}}");
  const std::string name = params["name"].get<std::string>();
  const Tool* tool = nullptr;
  for (const auto& t : tools_)
    if (t.name == name) tool = &t;
  if (!tool) {
    std::string names;
    for (const auto& t : tools_) names += (names.empty() ? "" : ", ") + t.name;
    throw std::invalid_argument(cat("unknown tool '", name, "'; this server has: ", names));
  }
  ojson args = params.contains("arguments") && !params["arguments"].is_null() ? params["arguments"] : ojson::object();
  if (!args.is_object()) throw std::invalid_argument(cat("the arguments of '", name, "' must be an object"));
  ToolResult r;
  try {
    r = tool->call(args);
  } catch (const ToolError& e) {
    r = ToolResult{e.what(), nullptr, true};
  } catch (const std::exception& e) {
    r = ToolResult{cat(name, " failed: ", e.what()), nullptr, true};
  }
  ojson out = {{"content", ojson::array({{{"type", "text"}, {"text", r.text}}})}, {"isError", r.is_error}};
  if (r.structured.is_object()) out["structuredContent"] = r.structured;
  return out;
}

ojson Server::handle_one(const ojson& m) {
  if (!m.is_object() || m.value("jsonrpc", "") != "2.0" || !m.contains("method") || !m["method"].is_string())
    return error_reply(m.is_object() && m.contains("id") ? m["id"] : ojson(nullptr), kInvalidRequest,
                       "not a JSON-RPC 2.0 request: it needs \"jsonrpc\": \"2.0\" and a string \"method\"");
  const std::string method = m["method"].get<std::string>();
  const ojson params = m.contains("params") ? m["params"] : ojson::object();
  if (!is_request(m)) return nullptr;  // notifications (initialized, cancelled, ...) need no reply
  const ojson& id = m["id"];
  ojson result;
  try {
    if (method == "initialize") {
      const std::string asked = params.is_object() && params.contains("protocolVersion") && params["protocolVersion"].is_string()
                                    ? params["protocolVersion"].get<std::string>()
                                    : "";
      result = {{"protocolVersion", negotiate_version(asked)},
                {"capabilities", {{"tools", {{"listChanged", false}}}}},
                {"serverInfo", {{"name", name_}, {"version", version_}}}};
      if (!instructions_.empty()) result["instructions"] = instructions_;
    } else if (method == "ping") {
      result = ojson::object();
    } else if (method == "tools/list") {
      ojson list = ojson::array();
      for (const auto& t : tools_)
        list.push_back({{"name", t.name}, {"description", t.description}, {"inputSchema", t.input_schema}});
      result = {{"tools", list}};
    } else if (method == "tools/call") {
      result = call_tool(params);
    } else {
      return error_reply(id, kMethodNotFound, cat("method '", method, "' is not served by ", name_,
                                                  " (it serves initialize, ping, tools/list and tools/call)"));
    }
  } catch (const std::invalid_argument& e) {
    return error_reply(id, kInvalidParams, e.what());
  } catch (const std::exception& e) {
    return error_reply(id, kInternalError, e.what());
  }
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", result}};
}

ojson Server::handle(const ojson& msg) {
  if (!msg.is_array()) return handle_one(msg);
  if (msg.empty()) return error_reply(nullptr, kInvalidRequest, "an empty batch");
  ojson out = ojson::array();
  for (const auto& m : msg)
    if (ojson r = handle_one(m); !r.is_null()) out.push_back(std::move(r));
  return out.empty() ? ojson(nullptr) : out;
}

std::string Server::handle_text(std::string_view text) {
  const ojson msg = ojson::parse(text, nullptr, false);
  if (msg.is_discarded()) return error_reply(nullptr, kParseError, "the message is not valid JSON").dump();
  const ojson r = handle(msg);
  return r.is_null() ? std::string() : r.dump();
}

void serve_stdio(Server& s, std::istream& in, std::ostream& out, int max_in_flight) {
  std::mutex mu;  // guards `out` and `running`
  std::condition_variable done;
  int running = 0;
  // std::cin is tied to std::cout: every read would flush `out` from this thread while a handler
  // thread writes a reply under `mu`, a data race that printed a reply twice. Replies are flushed
  // as they are written, so the tie is not needed.
  std::ostream* const tied = in.tie(nullptr);
  auto answer = [&](const std::string& line) {
    std::string reply;
    try {
      reply = s.handle_text(line);
    } catch (const std::exception& e) {  // handle_text answers errors itself; this is a last resort
      reply = error_reply(nullptr, kInternalError, e.what()).dump();
    }
    std::lock_guard<std::mutex> lk(mu);
    if (!reply.empty()) out << reply << '\n' << std::flush;  // one whole line at a time
  };
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (max_in_flight <= 1) {
      answer(line);
      continue;
    }
    std::unique_lock<std::mutex> lk(mu);
    done.wait(lk, [&] { return running < max_in_flight; });
    ++running;
    lk.unlock();
    std::thread([&, line] {
      answer(line);
      std::lock_guard<std::mutex> g(mu);  // notified under the lock: mu outlives this thread's use
      --running;
      done.notify_all();
    }).detach();
  }
  std::unique_lock<std::mutex> lk(mu);  // the input ended: answer what is in flight, then return
  done.wait(lk, [&] { return running == 0; });
  in.tie(tied);
}

}  // namespace helix::mcp

// MCP's JSON-RPC side without a transport: version negotiation, tool calls and their errors,
// notifications and batches (the transports are tested with the real `mcp` client in
// tests/python/test_mcp.py).
#include <gtest/gtest.h>

#include <sstream>

#include "mcp/mcp.h"

using helix::mcp::ojson;
namespace mcp = helix::mcp;

namespace {

mcp::Server make() {
  mcp::Server s("helix-test", "0.0");
  s.add_tool({"add", "Adds two integers",
              {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}, {"b", {{"type", "integer"}}}}}},
              [](const ojson& a) {
                if (!a.contains("a") || !a["a"].is_number_integer()) throw mcp::ToolError("'a' must be an integer");
                const int64_t sum = a["a"].get<int64_t>() + a.value("b", int64_t{0});
                return mcp::ToolResult{std::to_string(sum), {{"sum", sum}}, false};
              }});
  s.add_tool({"boom", "Fails", {{"type", "object"}}, [](const ojson&) -> mcp::ToolResult { throw std::runtime_error("disk on fire"); }});
  return s;
}

ojson req(const std::string& method, const ojson& params, int id = 1) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
}

}  // namespace

TEST(Mcp, NegotiatesTheProtocolVersion) {
  EXPECT_EQ(mcp::negotiate_version("2025-06-18"), "2025-06-18");
  EXPECT_EQ(mcp::negotiate_version("2024-11-05"), "2024-11-05");
  EXPECT_EQ(mcp::negotiate_version("2031-01-01"), mcp::protocol_versions().back());
  mcp::Server s = make();
  const ojson r = s.handle(req("initialize", {{"protocolVersion", "2025-03-26"}, {"capabilities", ojson::object()}}));
  EXPECT_EQ(r["result"]["protocolVersion"], "2025-03-26");
  EXPECT_EQ(r["result"]["serverInfo"]["name"], "helix-test");
  EXPECT_TRUE(r["result"]["capabilities"].contains("tools"));
}

TEST(Mcp, ToolsListAndCall) {
  mcp::Server s = make();
  const ojson list = s.handle(req("tools/list", ojson::object()));
  ASSERT_EQ(list["result"]["tools"].size(), 2u);
  EXPECT_EQ(list["result"]["tools"][0]["inputSchema"]["type"], "object");
  ojson r = s.handle(req("tools/call", {{"name", "add"}, {"arguments", {{"a", 2}, {"b", 3}}}}));
  EXPECT_EQ(r["result"]["content"][0]["text"], "5");
  EXPECT_EQ(r["result"]["structuredContent"]["sum"], 5);
  EXPECT_EQ(r["result"]["isError"], false);
  r = s.handle(req("tools/call", {{"name", "add"}, {"arguments", {{"a", "two"}}}}));
  EXPECT_EQ(r["result"]["isError"], true);
  EXPECT_EQ(r["result"]["content"][0]["text"], "'a' must be an integer");
  r = s.handle(req("tools/call", {{"name", "boom"}}));
  EXPECT_EQ(r["result"]["isError"], true);
  EXPECT_NE(r["result"]["content"][0]["text"].get<std::string>().find("disk on fire"), std::string::npos);
  r = s.handle(req("tools/call", {{"name", "nope"}}));
  EXPECT_EQ(r["error"]["code"], -32602);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("add, boom"), std::string::npos);
  r = s.handle(req("tools/call", {{"name", "add"}, {"arguments", ojson::array()}}));
  EXPECT_EQ(r["error"]["code"], -32602);
}

TEST(Mcp, NotificationsBatchesAndBadMessages) {
  mcp::Server s = make();
  EXPECT_TRUE(s.handle({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}).is_null());
  EXPECT_EQ(s.handle(req("resources/list", ojson::object()))["error"]["code"], -32601);
  const ojson batch = s.handle(ojson::array({req("ping", ojson::object(), 7), {{"jsonrpc", "2.0"}, {"method", "x"}}}));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0]["id"], 7);
  EXPECT_EQ(ojson::parse(s.handle_text("{nope"))["error"]["code"], -32700);
  EXPECT_EQ(ojson::parse(s.handle_text(R"({"id": 3, "method": "ping"})"))["error"]["code"], -32600);
  std::istringstream in(req("ping", ojson::object(), 1).dump() + "\n\n" + R"({"jsonrpc":"2.0","method":"n"})" + "\n" +
                        req("ping", ojson::object(), 2).dump() + "\n");
  std::ostringstream out;
  mcp::serve_stdio(s, in, out);
  EXPECT_EQ(out.str(), R"({"jsonrpc":"2.0","id":1,"result":{}})" "\n" R"({"jsonrpc":"2.0","id":2,"result":{}})" "\n");
}

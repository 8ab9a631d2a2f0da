// Toolbox (see toolbox.h), and open_plugin (plugin.h).
#include "plugins/toolbox.h"

#include <chrono>
#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "plugins/builtins.h"
#include "plugins/mcp.h"
#include "plugins/openapi.h"

namespace helix::plugins {

std::unique_ptr<Executor> open_plugin(const Manifest& m, const Context& ctx) {
  switch (m.kind) {
    case Kind::kBuiltin: return make_builtin(m.name, ctx);
    case Kind::kOpenApi: return make_openapi_client(m);
    case Kind::kMcpStdio:
    case Kind::kMcpHttp: return make_mcp_client(m);
  }
  throw Error("unknown plugin kind");
}

struct Toolbox::Entry {
  Manifest m;
  std::unique_ptr<Executor> ex;
  std::vector<ToolSpec> tools;
};

Toolbox::Toolbox(std::vector<Manifest> manifests, Context ctx) : ctx_(std::move(ctx)) {
  std::set<std::string> seen;
  for (auto& m : manifests) {
    HELIX_CHECK(seen.insert(m.name).second, "the plugin '", m.name, "' is named twice");
    entries_.push_back(std::make_unique<Entry>(Entry{std::move(m), nullptr, {}}));
  }
}
Toolbox::~Toolbox() = default;

Toolbox::Entry& Toolbox::entry(size_t i) {
  Entry& e = *entries_[i];
  if (!e.ex) e.ex = open_plugin(e.m, ctx_);
  return e;
}

std::vector<ToolSpec> Toolbox::plugin_tools(const std::string& plugin) {
  list();
  for (const auto& e : entries_)
    if (e->m.name == plugin) return e->tools;
  throw Error(cat("no plugin '", plugin, "' in this toolbox"));
}

namespace {
bool allowed(const Manifest& m, const ToolSpec& t, std::string* why) {
  const auto& list = m.permissions.tools;
  if (!list.empty() && std::find(list.begin(), list.end(), t.name) == list.end()) {
    if (why) *why = cat("the plugin '", m.name, "' does not allow the tool '", t.name, "' (permissions.tools)");
    return false;
  }
  if (t.write && !m.permissions.write) {
    if (why) *why = cat("the tool '", t.name, "' of plugin '", m.name, "' changes things, and the plugin's permissions do not ",
                        "allow that (permissions.write = false)");
    return false;
  }
  return true;
}
}  // namespace

void Toolbox::list() {
  if (listed_) return;
  std::vector<std::pair<size_t, ToolSpec>> all;
  std::map<std::string, int> count;
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entry(i);
    try {
      e.tools = e.ex->tools();
    } catch (const std::exception& ex) {
      throw Error(cat("plugin '", e.m.name, "': ", ex.what()));
    }
    for (const auto& t : e.tools) {
      if (!allowed(e.m, t, nullptr)) continue;
      all.emplace_back(i, t);
      ++count[t.name];
    }
  }
  for (const auto& [i, t] : all) {
    const Manifest& m = entries_[i]->m;
    std::string name = count[t.name] > 1 ? m.name + "_" + t.name : t.name;
    if (name.size() > 64) name.resize(64);
    std::string desc = t.description;
    if (!m.description.empty()) desc = cat("[", m.name, ": ", m.description, "] ", desc);
    ojson params = t.parameters.is_object() ? t.parameters : ojson{{"type", "object"}};
    if (!params.contains("type")) params["type"] = "object";
    tools_.push_back({{"type", "function"}, {"function", {{"name", name}, {"description", desc}, {"parameters", params}}}});
    routes_.push_back({name, Route{i, t.name}});
  }
  listed_ = true;
}

const ojson& Toolbox::openai_tools() {
  list();
  return tools_;
}

CallRecord Toolbox::call(const std::string& id, const std::string& name, const std::string& arguments) {
  CallRecord r;
  r.id = id;
  r.tool = name;
  r.arguments = arguments;
  const auto start = std::chrono::steady_clock::now();
  auto done = [&](bool ok, std::string text) {
    r.ok = ok;
    r.result = std::move(text);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  };
  try {
    list();
  } catch (const std::exception& e) {
    return done(false, e.what());
  }
  const Route* route = nullptr;
  for (const auto& [n, rt] : routes_)
    if (n == name) route = &rt;
  if (!route) {
    for (const auto& e : entries_)  // a tool the permissions hide: say so
      for (const auto& t : e->tools) {
        std::string why;
        if (t.name == name && !allowed(e->m, t, &why)) return done(false, why);
      }
    std::string names;
    for (const auto& [n, rt] : routes_) names += (names.empty() ? "" : ", ") + n;
    return done(false, cat("there is no tool named '", name, "' (the tools are: ", names, ")"));
  }
  Entry& e = *entries_[route->entry];
  r.plugin = e.m.name;
  r.tool = route->tool;
  ojson args;
  try {
    args = arguments.empty() ? ojson::object() : ojson::parse(arguments);
  } catch (const std::exception&) {
    return done(false, cat("the arguments are not valid JSON: ", arguments.substr(0, 200)));
  }
  if (!args.is_object()) return done(false, "the arguments must be a JSON object");
  for (const auto& t : e.tools) {
    std::string why;
    if (t.name == route->tool && !allowed(e.m, t, &why)) return done(false, why);
  }
  try {
    ToolResult res = e.ex->call(route->tool, args);
    return done(res.ok, res.ok || !res.text.empty() ? res.text : "the tool reported an error without a message");
  } catch (const std::exception& ex) {
    return done(false, ex.what());
  }
}

}  // namespace helix::plugins

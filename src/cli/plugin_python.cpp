// The python plugin's commands and MCP tool (see plugin_python.h).
#include "cli/plugin_python.h"

#include <cstdio>

#include "cli/gen_options.h"
#include "core/error.h"
#include "plugins/python_tool.h"

namespace helix::cli {

namespace {

using plugins::ojson;

void check_name(const std::vector<std::string>& a, const char* verb) {
  HELIX_CHECK(!a.empty() && a[0] == "python", "helix plugin ", verb,
              " takes the built-in plugin's name: python (the only built-in that is off by default)");
}

}  // namespace

int plugin_enable(const std::vector<std::string>& a) {
  check_name(a, "enable");
  plugins::PythonConfig c = plugins::load_python_config();  // earlier limits are kept
  c.enabled = true;
  for (size_t i = 1; i < a.size(); ++i) {
    const std::string& f = a[i];
    HELIX_CHECK(f.rfind("--", 0) == 0, "unexpected argument '", f, "' (see helix plugin --help)");
    std::string key = f.substr(2);
    for (char& ch : key) ch = ch == '-' ? '_' : ch;
    if (key == "require_isolation") {
      c.limits.require_isolation = true;
      continue;
    }
    if (key == "allow_weaker_isolation") {
      c.limits.require_isolation = false;
      continue;
    }
    HELIX_CHECK(i + 1 < a.size(), "option ", f, " needs a value (see helix plugin --help)");
    plugins::set_python_limit(c, key, float_flag(f, a[++i], -1e18));
  }
  plugins::save_python_config(c);
  std::printf("enabled the python plugin (%s):\n%s", plugins::python_config_path().c_str(),
              plugins::python_config_toml(c).c_str());
  // A first run shows what isolation this machine gives.
  const plugins::ToolResult r = plugins::run_python_tool(c.limits, {{"code", "print(sum(range(10)))"}});
  const ojson j = ojson::parse(r.text);
  if (!r.ok || j["stdout"] != "45\n") {
    std::fprintf(stderr, "warning: a first sandboxed run failed: %s\n", r.text.c_str());
    return 1;
  }
  if (j.contains("sandbox_notes")) {
    for (const auto& n : j["sandbox_notes"]) std::printf("isolation missing here: %s\n", n.get<std::string>().c_str());
  } else {
    std::printf("checked: the sandbox runs with its full isolation on this machine\n");
  }
  return 0;
}

int plugin_disable(const std::vector<std::string>& a) {
  check_name(a, "disable");
  HELIX_CHECK(a.size() == 1, "usage: helix plugin disable python");
  plugins::PythonConfig c = plugins::load_python_config();
  c.enabled = false;
  plugins::save_python_config(c);
  std::printf("disabled the python plugin (%s)\n", plugins::python_config_path().c_str());
  return 0;
}

void add_python_tool(mcp::Server& s) {
  const plugins::PythonConfig c = plugins::load_python_config();
  if (!c.enabled) return;
  s.add_tool({"python", plugins::kPythonToolDescription, plugins::python_tool_schema(), [limits = c.limits](const ojson& a) {
                plugins::ToolResult r;
                try {
                  r = plugins::run_python_tool(limits, a);
                } catch (const std::exception& e) {
                  throw mcp::ToolError(e.what());
                }
                return mcp::ToolResult{r.text, ojson::parse(r.text), !r.ok};
              }});
}

}  // namespace helix::cli

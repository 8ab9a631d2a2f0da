// The `python` built-in plugin: the model's Python 3 code run in the sandbox (src/sandbox: no
// network, no host files, CPU, memory, time and output limits). Off until enabled:
//
//   helix plugin enable python [--cpu-s N] [--wall-s S] [--memory-mb N] ...   (writes the config)
//   helix plugin disable python
//
// The config is PLUGINS_DIR/builtins/python.toml (PLUGINS_DIR: plugins_dir()):
//   enabled = true
//   cpu_s = 5            wall_s = 10         memory_mb = 256     processes = 16
//   file_kb = 1024       scratch_mb = 16     output_kb = 64      require_isolation = false
// Once enabled, `helix chat --plugins python`, the server's "plugins": ["python"] and the MCP
// servers (`helix mcp`, serve's /mcp) offer the tool `python` {"code": "..."}.
#pragma once

#include <memory>
#include <string>

#include "plugins/plugin.h"
#include "sandbox/sandbox.h"

namespace helix::plugins {

struct PythonConfig {
  bool enabled = false;
  sandbox::Limits limits;
};

std::string python_config_path();  // plugins_dir()/builtins/python.toml
// The config in effect (disabled with the default limits when there is no file); throws naming
// the file and the key when the file is wrong.
PythonConfig load_python_config();
void save_python_config(const PythonConfig& c);
// Sets one limit from its config key (cpu_s, wall_s, memory_mb, processes, file_kb, scratch_mb,
// output_kb, require_isolation) and checks its range; throws naming the key.
void set_python_limit(PythonConfig& c, const std::string& key, double value);
std::string python_config_toml(const PythonConfig& c);
// Throws, saying how to turn it on, unless the python plugin is enabled.
void check_python_enabled();

// The tool's description and argument schema (shared by the plugin and the MCP tool).
extern const char* const kPythonToolDescription;
ojson python_tool_schema();
// Runs the tool's arguments ({"code": string, "stdin"?: string; the schema offers only code, as
// small models fill optional strings with rambling}) in the sandbox; the result as
// the model sees it: {"exit_code", "stdout", "stderr"} plus "error" (what stopped it) and
// "sandbox_notes" (isolation this machine refused) when there are any. ok: the code ran to exit 0.
ToolResult run_python_tool(const sandbox::Limits& limits, const ojson& args);

std::unique_ptr<Executor> make_python_plugin();

}  // namespace helix::plugins

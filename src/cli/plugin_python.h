// The python built-in plugin on the command line and in Helix's MCP servers (plugins/python_tool.h):
//   helix plugin enable python [--cpu-s N] [--wall-s S] [--memory-mb N] [--processes N]
//                              [--file-kb N] [--scratch-mb N] [--output-kb N] [--require-isolation]
//   helix plugin disable python
#pragma once

#include <string>
#include <vector>

#include "mcp/mcp.h"

namespace helix::cli {

// `helix plugin enable|disable` (args after the subcommand); the exit status.
int plugin_enable(const std::vector<std::string>& args);
int plugin_disable(const std::vector<std::string>& args);

// Adds the tool `python` to an MCP server when the python plugin is enabled (nothing otherwise).
void add_python_tool(mcp::Server& s);

}  // namespace helix::cli

// Plugin manifests: what a plugin is and how to reach it, stored as TOML (or JSON) files named
// NAME.toml in $XDG_DATA_HOME/helix/plugins (default ~/.local/share/helix/plugins).
//
//   name = "weather"
//   description = "Weather forecasts for cities"     # shown to the model
//   timeout_s = 20                                    # per call
//   max_response_bytes = 1048576
//   [openapi]  source = "http://127.0.0.1:8000/openapi.json"   # or a file
//   [mcp]      command = ["python3", "server.py"]             # stdio; or url = "http://host/mcp"
//   [auth]     type = "bearer"   # bearer | header | query;  name = "X-API-Key" (header, query)
//              (OpenAPI and MCP over HTTP send it so; an MCP stdio server gets it in its environment)
//              env = "WEATHER_KEY"  or  file = "/path/to/key"  # never logged or returned
//   [permissions] tools = ["get_forecast"]  # the tools the model may call (empty: all)
//                 write = false             # allow calls that change things (POST/PUT/PATCH/DELETE)
//                 hosts = []                # OpenAPI: hosts allowed besides the document's server
//
// The built-in plugins (calculator, datetime, kb) need no manifest; their names are reserved.
#pragma once

#include <string>
#include <vector>

#include "plugins/plugin.h"

namespace helix::plugins {

enum class Kind { kOpenApi, kMcpStdio, kMcpHttp, kBuiltin };
const char* kind_name(Kind k);

struct Auth {
  std::string type;  // "" (none), "bearer", "header", "query"
  std::string name;  // header or query parameter name (bearer: Authorization)
  std::string env;   // the key comes from this environment variable ...
  std::string file;  // ... or from this file (first line)
};

struct Permissions {
  std::vector<std::string> tools;  // allowed tools; empty: all
  bool write = false;
  std::vector<std::string> hosts;
};

struct Manifest {
  std::string name, description;
  Kind kind = Kind::kBuiltin;
  std::string openapi;               // kOpenApi: document file or URL
  std::vector<std::string> command;  // kMcpStdio: argv
  std::string url;                   // kMcpHttp
  Auth auth;
  Permissions permissions;
  double timeout_s = 30;
  size_t max_response_bytes = 1 << 20;
};

// Parses a manifest from TOML or JSON text (`where` names it in errors); throws helix::Error
// naming the key that is wrong.
Manifest parse_manifest(const std::string& text, const std::string& where, bool json);
ojson manifest_json(const Manifest& m);  // the stored form (no secret: only where it comes from)
std::string manifest_toml(const Manifest& m);

// $HELIX_PLUGINS_DIR if set, else $XDG_DATA_HOME/helix/plugins (default ~/.local/share/helix/plugins).
std::string plugins_dir();
void check_plugin_name(const std::string& name);  // letters, digits, '_' and '-', 1-64
bool is_builtin(const std::string& name);
std::vector<std::string> builtin_names();
Manifest builtin_manifest(const std::string& name);

// Stored manifests (dir/NAME.toml or dir/NAME.json) plus the built-ins.
void save_manifest(const std::string& dir, const Manifest& m);  // atomic; refuses to overwrite
std::vector<Manifest> list_manifests(const std::string& dir);
Manifest find_manifest(const std::string& dir, const std::string& name);  // throws listing names
void remove_manifest(const std::string& dir, const std::string& name);

// The secret the auth section names; throws when the variable is unset or the file unreadable.
std::string read_secret(const Auth& a);
// `text` with every occurrence of `secret` replaced by "[redacted]".
std::string redact(std::string text, const std::string& secret);

}  // namespace helix::plugins

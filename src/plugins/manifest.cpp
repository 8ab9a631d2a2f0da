// Plugin manifests: parsing (TOML via toml++ or JSON), checking, storage and secrets.
#include "plugins/manifest.h"

#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "plugins/python_tool.h"

namespace helix::plugins {

namespace fs = std::filesystem;

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kOpenApi: return "openapi";
    case Kind::kMcpStdio: return "mcp-stdio";
    case Kind::kMcpHttp: return "mcp-http";
    case Kind::kBuiltin: return "builtin";
  }
  return "?";
}

namespace {

const std::vector<std::pair<std::string, std::string>> kBuiltins = {
    {"calculator", "Exact arithmetic on decimals and fractions (no rounding errors)"},
    {"datetime", "The current date and time in any time zone, time-zone conversion, days between dates"},
    {"kb", "Search a Helix knowledge base for passages that answer a question"},
    {"python", "Sandboxed Python 3"},  // off until `helix plugin enable python` (python_tool.h)
    {"chatfile", "Summaries, topics, key points, minutes and cited answers over a document (ChatFile)"},
};

std::string str_of(const ojson& j, const std::string& key, const std::string& where, const std::string& section = "") {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  HELIX_CHECK(it->is_string(), where, ": '", section.empty() ? "" : section + ".", key, "' must be a string");
  return it->get<std::string>();
}

std::vector<std::string> strings_of(const ojson& j, const std::string& key, const std::string& where,
                                    const std::string& section) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end()) return out;
  HELIX_CHECK(it->is_array(), where, ": '", section, ".", key, "' must be an array of strings");
  for (const auto& v : *it) {
    HELIX_CHECK(v.is_string(), where, ": '", section, ".", key, "' must be an array of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

void check_keys(const ojson& j, std::initializer_list<const char*> known, const std::string& where,
                const std::string& section) {
  for (const auto& [k, v] : j.items()) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    HELIX_CHECK(ok, where, ": unknown key '", section.empty() ? "" : section + ".", k, "'");
  }
}

Auth parse_auth(const ojson& j, const std::string& where) {
  HELIX_CHECK(j.is_object(), where, ": [auth] must be a table");
  check_keys(j, {"type", "name", "env", "file"}, where, "auth");
  Auth a{str_of(j, "type", where, "auth"), str_of(j, "name", where, "auth"), str_of(j, "env", where, "auth"),
         str_of(j, "file", where, "auth")};
  if (a.type.empty() && (!a.env.empty() || !a.file.empty())) a.type = "bearer";
  HELIX_CHECK(a.type.empty() || a.type == "bearer" || a.type == "header" || a.type == "query", where,
              ": auth.type must be bearer, header or query, not '", a.type, "'");
  if (a.type.empty()) return a;
  HELIX_CHECK(a.env.empty() != a.file.empty(), where, ": auth needs exactly one of 'env' (an environment variable) ",
              "or 'file' (a file holding the key)");
  HELIX_CHECK(a.type == "bearer" || !a.name.empty(), where, ": auth.type ", a.type,
              " needs auth.name (the header or query parameter that carries the key)");
  return a;
}

}  // namespace

bool is_builtin(const std::string& name) {
  return std::any_of(kBuiltins.begin(), kBuiltins.end(), [&](const auto& b) { return b.first == name; });
}

std::vector<std::string> builtin_names() {
  std::vector<std::string> out;
  for (const auto& b : kBuiltins) out.push_back(b.first);
  return out;
}

Manifest builtin_manifest(const std::string& name) {
  for (const auto& [n, d] : kBuiltins) {
    if (n != name) continue;
    Manifest m;
    m.name = n;
    m.description = d;
    m.kind = Kind::kBuiltin;
    m.timeout_s = 10;
    return m;
  }
  throw Error(cat("'", name, "' is not a built-in plugin"));
}

void check_plugin_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  HELIX_CHECK(ok, "plugin name '", name, "' is not valid: use 1-64 letters, digits, '_' or '-'");
}

Manifest parse_manifest(const std::string& text, const std::string& where, bool json) {
  ojson j;
  if (json) {
    try {
      j = ojson::parse(text);
    } catch (const std::exception& e) {
      throw Error(cat(where, ": not valid JSON: ", e.what()));
    }
  } else {
    try {
      toml::table t = toml::parse(text, where);
      std::ostringstream os;
      os << toml::json_formatter{t};
      j = ojson::parse(os.str());
    } catch (const toml::parse_error& e) {
      throw Error(cat(where, ":", e.source().begin.line, ":", e.source().begin.column, ": ", e.description()));
    }
  }
  HELIX_CHECK(j.is_object(), where, ": a manifest is a table (object)");
  check_keys(j, {"name", "description", "timeout_s", "max_response_bytes", "openapi", "mcp", "auth", "permissions"},
             where, "");
  Manifest m;
  m.name = str_of(j, "name", where);
  HELIX_CHECK(!m.name.empty(), where, ": 'name' is missing");
  check_plugin_name(m.name);
  HELIX_CHECK(!is_builtin(m.name), where, ": '", m.name, "' is the name of a built-in plugin; choose another");
  m.description = str_of(j, "description", where);
  if (auto it = j.find("timeout_s"); it != j.end()) {
    HELIX_CHECK(it->is_number() && it->get<double>() > 0 && it->get<double>() <= 600, where,
                ": 'timeout_s' must be a number of seconds in (0, 600]");
    m.timeout_s = it->get<double>();
  }
  if (auto it = j.find("max_response_bytes"); it != j.end()) {
    HELIX_CHECK(it->is_number_integer() && it->get<int64_t>() >= 1024 && it->get<int64_t>() <= (256 << 20), where,
                ": 'max_response_bytes' must be an integer in [1024, 268435456]");
    m.max_response_bytes = static_cast<size_t>(it->get<int64_t>());
  }
  const bool has_openapi = j.contains("openapi"), has_mcp = j.contains("mcp");
  HELIX_CHECK(has_openapi != has_mcp, where, ": a plugin needs exactly one of [openapi] (source = a document file or URL) ",
              "or [mcp] (command = [...] for stdio, or url = \"http://...\" for streamable HTTP)");
  if (has_openapi) {
    const ojson& o = j["openapi"];
    HELIX_CHECK(o.is_object(), where, ": [openapi] must be a table");
    check_keys(o, {"source"}, where, "openapi");
    m.kind = Kind::kOpenApi;
    m.openapi = str_of(o, "source", where, "openapi");
    HELIX_CHECK(!m.openapi.empty(), where, ": openapi.source is missing (a file path or an http(s) URL)");
  } else {
    const ojson& o = j["mcp"];
    HELIX_CHECK(o.is_object(), where, ": [mcp] must be a table");
    check_keys(o, {"command", "url"}, where, "mcp");
    m.command = strings_of(o, "command", where, "mcp");
    m.url = str_of(o, "url", where, "mcp");
    HELIX_CHECK(m.command.empty() != m.url.empty(), where, ": [mcp] needs exactly one of command (an argv array) or url");
    m.kind = m.url.empty() ? Kind::kMcpStdio : Kind::kMcpHttp;
  }
  if (auto it = j.find("auth"); it != j.end()) m.auth = parse_auth(*it, where);
  if (auto it = j.find("permissions"); it != j.end()) {
    HELIX_CHECK(it->is_object(), where, ": [permissions] must be a table");
    check_keys(*it, {"tools", "write", "hosts"}, where, "permissions");
    m.permissions.tools = strings_of(*it, "tools", where, "permissions");
    m.permissions.hosts = strings_of(*it, "hosts", where, "permissions");
    if (auto w = it->find("write"); w != it->end()) {
      HELIX_CHECK(w->is_boolean(), where, ": permissions.write must be true or false");
      m.permissions.write = w->get<bool>();
    }
  }
  return m;
}

ojson manifest_json(const Manifest& m) {
  ojson j = {{"name", m.name}, {"description", m.description}, {"timeout_s", m.timeout_s},
             {"max_response_bytes", m.max_response_bytes}};
  if (m.kind == Kind::kOpenApi) j["openapi"] = {{"source", m.openapi}};
  if (m.kind == Kind::kMcpStdio) j["mcp"] = {{"command", m.command}};
  if (m.kind == Kind::kMcpHttp) j["mcp"] = {{"url", m.url}};
  if (!m.auth.type.empty()) {
    ojson a = {{"type", m.auth.type}};
    if (!m.auth.name.empty()) a["name"] = m.auth.name;
    if (!m.auth.env.empty()) a["env"] = m.auth.env;
    if (!m.auth.file.empty()) a["file"] = m.auth.file;
    j["auth"] = a;
  }
  j["permissions"] = {{"tools", m.permissions.tools}, {"write", m.permissions.write}, {"hosts", m.permissions.hosts}};
  return j;
}

std::string manifest_toml(const Manifest& m) {
  // TOML's basic strings accept JSON's string escapes, so JSON dumps of strings are TOML strings.
  auto q = [](const std::string& s) { return ojson(s).dump(); };
  auto arr = [&](const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + q(v[i]);
    return s + "]";
  };
  std::ostringstream os;
  os << "name = " << q(m.name) << "\ndescription = " << q(m.description) << "\ntimeout_s = " << m.timeout_s
     << "\nmax_response_bytes = " << m.max_response_bytes << "\n";
  if (m.kind == Kind::kOpenApi) os << "\n[openapi]\nsource = " << q(m.openapi) << "\n";
  if (m.kind == Kind::kMcpStdio) os << "\n[mcp]\ncommand = " << arr(m.command) << "\n";
  if (m.kind == Kind::kMcpHttp) os << "\n[mcp]\nurl = " << q(m.url) << "\n";
  if (!m.auth.type.empty()) {
    os << "\n[auth]\ntype = " << q(m.auth.type) << "\n";
    if (!m.auth.name.empty()) os << "name = " << q(m.auth.name) << "\n";
    if (!m.auth.env.empty()) os << "env = " << q(m.auth.env) << "\n";
    if (!m.auth.file.empty()) os << "file = " << q(m.auth.file) << "\n";
  }
  os << "\n[permissions]\ntools = " << arr(m.permissions.tools) << "\nwrite = " << (m.permissions.write ? "true" : "false")
     << "\nhosts = " << arr(m.permissions.hosts) << "\n";
  return os.str();
}

std::string plugins_dir() {
  if (const char* d = std::getenv("HELIX_PLUGINS_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/helix/plugins";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/helix/plugins";
}

namespace {

std::string stored_path(const std::string& dir, const std::string& name) {
  for (const char* ext : {".toml", ".json"}) {
    const std::string p = dir + "/" + name + ext;
    std::error_code ec;
    if (fs::exists(p, ec)) return p;
  }
  return "";
}

Manifest load_path(const std::string& p) {
  return parse_manifest(read_file(p, "plugin manifest"), p, p.size() > 5 && p.substr(p.size() - 5) == ".json");
}

}  // namespace

void save_manifest(const std::string& dir, const Manifest& m) {
  check_plugin_name(m.name);
  HELIX_CHECK(!is_builtin(m.name), "'", m.name, "' is a built-in plugin; choose another name");
  HELIX_CHECK(stored_path(dir, m.name).empty(), "a plugin named '", m.name, "' exists already (",
              stored_path(dir, m.name), "); remove it first with `helix plugin rm ", m.name, "`");
  std::error_code ec;
  fs::create_directories(dir, ec);
  HELIX_CHECK(!ec, "cannot create ", dir, ": ", ec.message());
  write_file_atomic(dir + "/" + m.name + ".toml", manifest_toml(m), "plugin manifest");
}

std::vector<Manifest> list_manifests(const std::string& dir) {
  std::vector<Manifest> out;
  for (const auto& n : builtin_names()) out.push_back(builtin_manifest(n));
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".toml" || ext == ".json") paths.push_back(e.path().string());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) out.push_back(load_path(p));
  return out;
}

Manifest find_manifest(const std::string& dir, const std::string& name) {
  if (name == "python") check_python_enabled();  // the sandboxed code runner is off until enabled
  if (is_builtin(name)) return builtin_manifest(name);
  check_plugin_name(name);
  const std::string p = stored_path(dir, name);
  if (p.empty()) {
    std::string names;
    for (const auto& m : list_manifests(dir)) names += (names.empty() ? "" : ", ") + m.name;
    throw Error(cat("no plugin named '", name, "' (known: ", names, "); add one with `helix plugin add`"));
  }
  return load_path(p);
}

void remove_manifest(const std::string& dir, const std::string& name) {
  HELIX_CHECK(!is_builtin(name), "'", name, "' is a built-in plugin and cannot be removed");
  check_plugin_name(name);
  const std::string p = stored_path(dir, name);
  HELIX_CHECK(!p.empty(), "no plugin named '", name, "' in ", dir);
  std::error_code ec;
  fs::remove(p, ec);
  HELIX_CHECK(!ec, "cannot remove ", p, ": ", ec.message());
}

std::string read_secret(const Auth& a) {
  if (a.type.empty()) return "";
  std::string s;
  if (!a.env.empty()) {
    const char* v = std::getenv(a.env.c_str());
    HELIX_CHECK(v && *v, "the plugin's key comes from the environment variable ", a.env, ", which is not set");
    s = v;
  } else {
    s = read_file(a.file, "plugin key file");
    s = s.substr(0, s.find('\n'));
    if (!s.empty() && s.back() == '\r') s.pop_back();
    HELIX_CHECK(!s.empty(), "the plugin's key file ", a.file, " is empty");
  }
  return s;
}

std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t p = text.find(secret); p != std::string::npos; p = text.find(secret, p))
    text.replace(p, secret.size(), "[redacted]");
  return text;
}

}  // namespace helix::plugins

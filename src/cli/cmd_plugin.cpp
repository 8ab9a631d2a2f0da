// helix plugin add|list|rm|test: the plugins Helix runs itself (src/plugins). Manifests live in
// $HELIX_PLUGINS_DIR, else $XDG_DATA_HOME/helix/plugins (~/.local/share/helix/plugins).
#include <wordexp.h>

#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/gen_options.h"
#include "cli/plugin_chat.h"
#include "cli/plugin_python.h"
#include "core/error.h"
#include "core/files.h"
#include "plugins/manifest.h"
#include "plugins/python_tool.h"
#include "plugins/toolbox.h"

namespace helix::cli {
namespace {

using plugins::ojson;

constexpr const char* kUsage =
    "usage: helix plugin add NAME (--openapi FILE|URL | --mcp-command \"CMD ARGS\" | --mcp-url URL) [options]\n"
    "       helix plugin add --manifest FILE.toml|FILE.json\n"
    "       helix plugin list [--json]\n"
    "       helix plugin rm NAME\n"
    "       helix plugin test NAME [--call TOOL [--args JSON]] [--json]\n"
    "       helix plugin enable python [limits]   |   helix plugin disable python\n"
    "Plugins give the model tools: an OpenAPI service, an MCP server (stdio command or streamable HTTP\n"
    "URL), or a built-in (calculator, datetime, kb). Use them with `helix chat --plugins NAME...` or\n"
    "the server's \"plugins\" request field. Manifests are kept in $HELIX_PLUGINS_DIR, else\n"
    "$XDG_DATA_HOME/helix/plugins (default ~/.local/share/helix/plugins).\n"
    "options of add:\n"
    "  --description TEXT       what the plugin is for (shown to the model)\n"
    "  --auth-env VAR           the API key is in this environment variable (never stored, logged or returned)\n"
    "  --auth-file FILE         ... or in this file (its first line)\n"
    "  --auth-type T            bearer (default: Authorization: Bearer KEY), header or query\n"
    "  --auth-name NAME         the header or query parameter for header/query auth\n"
    "  --allow-tool TOOL        only these tools may be called (repeat; default: all)\n"
    "  --allow-write            allow tools that change things (OpenAPI POST/PUT/PATCH/DELETE, MCP destructive)\n"
    "  --allow-host HOST        OpenAPI: a host calls may go to besides the document's own (repeat)\n"
    "  --timeout S              seconds per call (default 30)\n"
    "  --max-response-bytes N   largest answer accepted (default 1048576)\n"
    "options of test:\n"
    "  --call TOOL --args JSON  call a tool with these arguments and print its result (repeatable; exit\n"
    "                           status 1 when a call fails)\n"
    "  --kb-dir DIR             where the kb plugin finds knowledge bases\n"
    "enable python: the sandboxed code runner (off until enabled); limits, kept between enables:\n"
    "  --cpu-s N (5)  --wall-s S (10)  --memory-mb N (256)  --processes N (16, threads included)\n"
    "  --file-kb N (1024, largest file)  --scratch-mb N (16, the writable /tmp)  --output-kb N (64)\n"
    "  --require-isolation      refuse to run where the kernel refuses a namespace (default: run with\n"
    "                           what it allows and say what is missing; --allow-weaker-isolation)\n";

std::vector<std::string> split_command(const std::string& cmd) {
  wordexp_t w;
  const int rc = wordexp(cmd.c_str(), &w, WRDE_NOCMD | WRDE_UNDEF);
  HELIX_CHECK(rc == 0, "cannot read the command '", cmd, "': ",
              rc == WRDE_CMDSUB ? "command substitution is not allowed" : "unbalanced quotes or a bad character");
  std::vector<std::string> out(w.we_wordv, w.we_wordv + w.we_wordc);
  wordfree(&w);
  HELIX_CHECK(!out.empty(), "the MCP command is empty");
  return out;
}

int add(std::vector<std::string> a) {
  plugins::Manifest m;
  std::string manifest_file, name, openapi, mcp_cmd, mcp_url;
  bool have_timeout = false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto val = [&]() -> const std::string& {
      HELIX_CHECK(i + 1 < a.size(), "option ", a[i], " needs a value (see helix plugin --help)");
      return a[++i];
    };
    const std::string& f = a[i];
    if (f == "--manifest") manifest_file = val();
    else if (f == "--openapi") openapi = val();
    else if (f == "--mcp-command") mcp_cmd = val();
    else if (f == "--mcp-url") mcp_url = val();
    else if (f == "--description") m.description = val();
    else if (f == "--auth-env") m.auth.env = val();
    else if (f == "--auth-file") m.auth.file = val();
    else if (f == "--auth-type") m.auth.type = val();
    else if (f == "--auth-name") m.auth.name = val();
    else if (f == "--allow-tool") m.permissions.tools.push_back(val());
    else if (f == "--allow-write") m.permissions.write = true;
    else if (f == "--allow-host") m.permissions.hosts.push_back(val());
    else if (f == "--timeout") m.timeout_s = float_flag(f, val(), 0, 600, true), have_timeout = true;
    else if (f == "--max-response-bytes") m.max_response_bytes = static_cast<size_t>(int_flag(f, val(), 1024, 256 << 20));
    else if (!f.empty() && f[0] == '-') throw Error(cat("unknown option '", f, "' for helix plugin add (see --help)"));
    else if (name.empty()) name = f;
    else throw Error(cat("unexpected argument '", f, "' (see helix plugin --help)"));
  }
  (void)have_timeout;
  if (!manifest_file.empty()) {
    HELIX_CHECK(name.empty() && openapi.empty() && mcp_cmd.empty() && mcp_url.empty(),
                "--manifest FILE takes everything from the file; give no name or source besides it");
    const bool json = manifest_file.size() > 5 && manifest_file.substr(manifest_file.size() - 5) == ".json";
    m = plugins::parse_manifest(read_file(manifest_file, "plugin manifest"), manifest_file, json);
  } else {
    HELIX_CHECK(!name.empty(), "helix plugin add needs a NAME (see --help)");
    HELIX_CHECK((!openapi.empty()) + (!mcp_cmd.empty()) + (!mcp_url.empty()) == 1,
                "helix plugin add needs exactly one of --openapi FILE|URL, --mcp-command \"CMD ARGS\", --mcp-url URL");
    // Built through the manifest parser so that the flags are checked exactly as a file is.
    ojson j = plugins::manifest_json(m);
    j["name"] = name;
    if (!openapi.empty()) j["openapi"] = {{"source", openapi}};
    if (!mcp_cmd.empty()) j["mcp"] = {{"command", split_command(mcp_cmd)}};
    if (!mcp_url.empty()) j["mcp"] = {{"url", mcp_url}};
    if (!m.auth.type.empty() || !m.auth.env.empty() || !m.auth.file.empty()) {
      ojson au = ojson::object();
      if (!m.auth.type.empty()) au["type"] = m.auth.type;
      if (!m.auth.name.empty()) au["name"] = m.auth.name;
      if (!m.auth.env.empty()) au["env"] = m.auth.env;
      if (!m.auth.file.empty()) au["file"] = m.auth.file;
      j["auth"] = au;
    } else {
      j.erase("auth");
    }
    m = plugins::parse_manifest(j.dump(), "the options", true);
  }
  plugins::save_manifest(plugins::plugins_dir(), m);
  std::printf("added plugin '%s' (%s) to %s\ncheck it with: helix plugin test %s\n", m.name.c_str(),
              plugins::kind_name(m.kind), plugins::plugins_dir().c_str(), m.name.c_str());
  return 0;
}

std::string source_of(const plugins::Manifest& m) {
  switch (m.kind) {
    case plugins::Kind::kOpenApi: return m.openapi;
    case plugins::Kind::kMcpHttp: return m.url;
    case plugins::Kind::kMcpStdio: {
      std::string s;
      for (const auto& c : m.command) s += (s.empty() ? "" : " ") + c;
      return s;
    }
    case plugins::Kind::kBuiltin: return "(built in)";
  }
  return "";
}

// The python built-in is off until enabled: the listing says which.
std::string python_state() {
  try {
    return plugins::load_python_config().enabled ? " (enabled)" : " (off: helix plugin enable python)";
  } catch (const std::exception& e) {
    return cat(" (config unreadable: ", e.what(), ")");
  }
}

int list(const std::vector<std::string>& a) {
  const bool json = a.size() == 1 && a[0] == "--json";
  HELIX_CHECK(a.empty() || json, "helix plugin list takes only --json");
  const auto all = plugins::list_manifests(plugins::plugins_dir());
  if (json) {
    ojson out = ojson::array();
    for (const auto& m : all) {
      ojson j = plugins::manifest_json(m);
      j["kind"] = plugins::kind_name(m.kind);
      out.push_back(j);
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-16s %-10s %-40s %s\n", "NAME", "KIND", "SOURCE", "DESCRIPTION");
  for (const auto& m : all)
    std::printf("%-16s %-10s %-40s %s%s\n", m.name.c_str(), plugins::kind_name(m.kind), source_of(m).c_str(),
                m.description.c_str(), m.name == "python" ? python_state().c_str() : "");
  return 0;
}

int test(const std::vector<std::string>& a) {
  std::string name, kb_dir;
  std::vector<std::pair<std::string, std::string>> calls;  // --call TOOL [--args JSON], repeatable
  bool json = false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto val = [&]() -> const std::string& {
      HELIX_CHECK(i + 1 < a.size(), "option ", a[i], " needs a value");
      return a[++i];
    };
    if (a[i] == "--call") calls.emplace_back(val(), "{}");
    else if (a[i] == "--args" && !calls.empty()) calls.back().second = val();
    else if (a[i] == "--args") throw Error("--args follows the --call it gives arguments to");
    else if (a[i] == "--json") json = true;
    else if (a[i] == "--kb-dir") kb_dir = val();
    else if (a[i][0] == '-') throw Error(cat("unknown option '", a[i], "' for helix plugin test"));
    else if (name.empty()) name = a[i];
    else throw Error(cat("unexpected argument '", a[i], "'"));
  }
  HELIX_CHECK(!name.empty(), "helix plugin test needs the plugin's NAME");
  plugins::Manifest m = plugins::find_manifest(plugins::plugins_dir(), name);
  plugins::Context ctx;
  ctx.kb_dir = plugin_kb_dir(kb_dir);
  plugins::Toolbox box({m}, ctx);
  std::vector<plugins::ToolSpec> tools = box.plugin_tools(name);
  ojson out = {{"plugin", name}, {"kind", plugins::kind_name(m.kind)}, {"tools", ojson::array()}};
  for (const auto& t : tools)
    out["tools"].push_back({{"name", t.name}, {"description", t.description}, {"parameters", t.parameters}, {"write", t.write}});
  if (!json) {
    std::printf("connected to '%s' (%s): %zu tool%s\n", name.c_str(), plugins::kind_name(m.kind), tools.size(),
                tools.size() == 1 ? "" : "s");
    for (const auto& t : tools)
      std::printf("  %s%s  %s\n      parameters: %s\n", t.name.c_str(), t.write ? " (write)" : "", t.description.c_str(),
                  t.parameters.dump().c_str());
  }
  int rc = 0;
  if (!calls.empty()) {
    // Calls go through the toolbox, as the model's calls do: permissions and errors apply.
    box.openai_tools();
    out["calls"] = ojson::array();
    for (const auto& [tool, args] : calls) {
      plugins::CallRecord r = box.call("test", tool, args);
      out["calls"].push_back({{"tool", tool}, {"arguments", args}, {"ok", r.ok}, {"result", r.result}, {"seconds", r.seconds}});
      if (!json) std::printf("%s(%s) -> %s%s\n", tool.c_str(), args.c_str(), r.ok ? "" : "error: ", r.result.c_str());
      if (!r.ok) rc = 1;
    }
  }
  if (json) std::printf("%s\n", out.dump(2).c_str());
  return rc;
}

}  // namespace

int cmd_plugin(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.empty() || a[0] == "--help" || a[0] == "-h") {
    std::fputs(kUsage, a.empty() ? stderr : stdout);
    return a.empty() ? 2 : 0;
  }
  const std::string sub = a[0];
  a.erase(a.begin());
  for (const auto& x : a)
    if (x == "--help" || x == "-h") return std::fputs(kUsage, stdout), 0;
  if (sub == "add") return add(a);
  if (sub == "list") return list(a);
  if (sub == "test") return test(a);
  if (sub == "enable") return plugin_enable(a);
  if (sub == "disable") return plugin_disable(a);
  if (sub == "rm") {
    HELIX_CHECK(a.size() == 1, "usage: helix plugin rm NAME");
    plugins::remove_manifest(plugins::plugins_dir(), a[0]);
    std::printf("removed plugin '%s'\n", a[0].c_str());
    return 0;
  }
  throw Error(cat("unknown subcommand 'plugin ", sub, "': use add, list, rm, test, enable or disable (see helix plugin --help)"));
}

}  // namespace helix::cli

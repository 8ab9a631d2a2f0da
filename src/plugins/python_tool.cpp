// The python built-in plugin (see python_tool.h): its config file and the tool.
#include "plugins/python_tool.h"

#include <toml++/toml.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "plugins/manifest.h"

namespace helix::plugins {

namespace fs = std::filesystem;

// Short on purpose: small models copy long tool descriptions into the call's arguments.
const char* const kPythonToolDescription = "Run a Python 3 program and get what it prints.";

std::string python_config_path() { return plugins_dir() + "/builtins/python.toml"; }

namespace {

struct Key {
  const char* name;
  double lo, hi;
  const char* unit;
};

const Key kKeys[] = {{"cpu_s", 1, 3600, "seconds"},      {"wall_s", 0.1, 3600, "seconds"},
                     {"memory_mb", 32, 65536, "MiB"},    {"processes", 1, 4096, "processes and threads"},
                     {"file_kb", 1, 1048576, "KiB"},     {"scratch_mb", 1, 4096, "MiB"},
                     {"output_kb", 1, 65536, "KiB"},     {"require_isolation", 0, 1, "0 or 1"}};

}  // namespace

void set_python_limit(PythonConfig& c, const std::string& key, double v) {
  const Key* k = nullptr;
  for (const Key& x : kKeys)
    if (key == x.name) k = &x;
  if (!k) {
    std::string names;
    for (const Key& x : kKeys) names += (names.empty() ? "" : ", ") + std::string(x.name);
    throw Error(cat("the python plugin has no setting '", key, "' (settings: enabled, ", names, ")"));
  }
  HELIX_CHECK(std::isfinite(v) && v >= k->lo && v <= k->hi, "python plugin: ", key, " must be from ", k->lo, " to ",
              k->hi, " (", k->unit, "), not ", v);
  const bool whole = key != "wall_s";
  HELIX_CHECK(!whole || v == std::floor(v), "python plugin: ", key, " must be a whole number, not ", v);
  sandbox::Limits& l = c.limits;
  const auto n = static_cast<size_t>(v);
  if (key == "cpu_s") l.cpu_s = static_cast<int>(v);
  else if (key == "wall_s") l.wall_s = v;
  else if (key == "memory_mb") l.memory_bytes = n << 20;
  else if (key == "processes") l.processes = static_cast<int>(v);
  else if (key == "file_kb") l.file_bytes = n << 10;
  else if (key == "scratch_mb") l.scratch_bytes = n << 20;
  else if (key == "output_kb") l.output_bytes = n << 10;
  else l.require_isolation = v != 0;
}

std::string python_config_toml(const PythonConfig& c) {
  const sandbox::Limits& l = c.limits;
  std::ostringstream os;
  os << "# The python built-in plugin (helix plugin enable|disable python).\n"
     << "enabled = " << (c.enabled ? "true" : "false") << "\ncpu_s = " << l.cpu_s << "\nwall_s = " << l.wall_s
     << "\nmemory_mb = " << (l.memory_bytes >> 20) << "\nprocesses = " << l.processes
     << "\nfile_kb = " << (l.file_bytes >> 10) << "\nscratch_mb = " << (l.scratch_bytes >> 20)
     << "\noutput_kb = " << (l.output_bytes >> 10) << "\nrequire_isolation = " << (l.require_isolation ? "true" : "false")
     << "\n";
  return os.str();
}

PythonConfig load_python_config() {
  PythonConfig c;
  const std::string path = python_config_path();
  std::error_code ec;
  if (!fs::exists(path, ec)) return c;
  toml::table t;
  try {
    t = toml::parse(read_file(path, "python plugin config"), path);
  } catch (const toml::parse_error& e) {
    throw Error(cat(path, ":", e.source().begin.line, ": ", e.description()));
  }
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    try {
      if (key == "enabled" || key == "require_isolation") {
        HELIX_CHECK(v.is_boolean(), "must be true or false");
        if (key == "enabled") c.enabled = *v.value<bool>();
        else c.limits.require_isolation = *v.value<bool>();
      } else {
        HELIX_CHECK(v.is_number(), "must be a number");
        set_python_limit(c, key, *v.value<double>());
      }
    } catch (const std::exception& e) {
      throw Error(cat(path, ": '", key, "' ", e.what()));
    }
  }
  return c;
}

void save_python_config(const PythonConfig& c) {
  const fs::path path = python_config_path();
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  HELIX_CHECK(!ec, "cannot create ", path.parent_path().string(), ": ", ec.message());
  write_file_atomic(path.string(), python_config_toml(c), "python plugin settings");
}

void check_python_enabled() {
  HELIX_CHECK(load_python_config().enabled, "the python plugin (a sandboxed code runner) is off; turn it on with ",
              "`helix plugin enable python` (limits: see helix plugin --help)");
}

ojson python_tool_schema() {
  return {{"type", "object"},
          {"properties", {{"code", {{"type", "string"}, {"description", "the program; print the results"}}}}},
          {"required", {"code"}}};
}

ToolResult run_python_tool(const sandbox::Limits& limits, const ojson& args) {
  auto it = args.find("code");
  HELIX_CHECK(it != args.end() && it->is_string(), "the argument 'code' (a string with the Python program) is missing");
  std::string stdin_text;
  if (auto s = args.find("stdin"); s != args.end() && !s->is_null()) {
    HELIX_CHECK(s->is_string(), "the argument 'stdin' must be a string");
    stdin_text = s->get<std::string>();
  }
  const sandbox::Result r = sandbox::run_python(it->get<std::string>(), limits, stdin_text);
  // Output cut at the cap may end inside a UTF-8 sequence: JSON text needs it replaced, not thrown.
  auto text = [](const std::string& s) { return ojson(s).dump(-1, ' ', false, ojson::error_handler_t::replace); };
  std::string out = cat("{\"exit_code\":", r.exit_code, ",\"stdout\":", text(r.out), ",\"stderr\":", text(r.err));
  if (!r.ok()) out += cat(",\"error\":", text(r.error));
  if (!r.notes.empty()) out += cat(",\"sandbox_notes\":", ojson(r.notes).dump(-1, ' ', false, ojson::error_handler_t::replace));
  out += "}";
  return {r.ok(), out};
}

namespace {

class PythonPlugin : public Executor {
 public:
  explicit PythonPlugin(PythonConfig c) : c_(std::move(c)) {}
  std::vector<ToolSpec> tools() override { return {{"python", kPythonToolDescription, python_tool_schema()}}; }
  ToolResult call(const std::string& tool, const ojson& args) override {
    HELIX_CHECK(tool == "python", "the python plugin has no tool '", tool, "'");
    return run_python_tool(c_.limits, args);
  }

 private:
  PythonConfig c_;
};

}  // namespace

std::unique_ptr<Executor> make_python_plugin() {
  PythonConfig c = load_python_config();
  HELIX_CHECK(c.enabled, "the python plugin (a sandboxed code runner) is off; turn it on with ",
              "`helix plugin enable python` (limits: see helix plugin --help)");
  return std::make_unique<PythonPlugin>(std::move(c));
}

}  // namespace helix::plugins

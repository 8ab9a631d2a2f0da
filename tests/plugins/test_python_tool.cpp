// The python built-in plugin (plugins/python_tool.h): off until enabled, its config file, limits
// checked by name, and the tool's JSON result through the Toolbox.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "plugins/manifest.h"
#include "plugins/python_tool.h"
#include "plugins/toolbox.h"

using namespace helix::plugins;

namespace {

struct PluginsDir {
  std::filesystem::path dir;
  PluginsDir() {
    dir = std::filesystem::temp_directory_path() / ("helix-python-plugin-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    setenv("HELIX_PLUGINS_DIR", dir.c_str(), 1);
  }
  ~PluginsDir() {
    unsetenv("HELIX_PLUGINS_DIR");
    std::filesystem::remove_all(dir);
  }
};

}  // namespace

TEST(PythonPlugin, OffUntilEnabled) {
  PluginsDir d;
  EXPECT_FALSE(load_python_config().enabled);
  try {
    find_manifest(plugins_dir(), "python");
    ADD_FAILURE() << "a disabled python plugin was found";
  } catch (const helix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("helix plugin enable python"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_python_plugin(), helix::Error);
  PythonConfig c;
  c.enabled = true;
  set_python_limit(c, "cpu_s", 3);
  set_python_limit(c, "output_kb", 2);
  save_python_config(c);
  const PythonConfig back = load_python_config();
  EXPECT_TRUE(back.enabled);
  EXPECT_EQ(back.limits.cpu_s, 3);
  EXPECT_EQ(back.limits.output_bytes, 2048u);
  EXPECT_EQ(find_manifest(plugins_dir(), "python").kind, Kind::kBuiltin);
}

TEST(PythonPlugin, LimitsAreCheckedByName) {
  PythonConfig c;
  EXPECT_THROW(set_python_limit(c, "memory_mb", 8), helix::Error);
  EXPECT_THROW(set_python_limit(c, "cpu_s", 1.5), helix::Error);
  EXPECT_THROW(set_python_limit(c, "cpus", 2), helix::Error);
  PluginsDir d;
  std::filesystem::create_directories(d.dir / "builtins");
  std::ofstream(d.dir / "builtins" / "python.toml") << "enabled = true\nmemory_mb = \"lots\"\n";
  try {
    load_python_config();
    ADD_FAILURE() << "a bad config was read";
  } catch (const helix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'memory_mb' must be a number"), std::string::npos) << e.what();
  }
}

TEST(PythonPlugin, RunsThroughTheToolbox) {
  PluginsDir d;
  PythonConfig c;
  c.enabled = true;
  save_python_config(c);
  Toolbox box({find_manifest(plugins_dir(), "python")}, {});
  ASSERT_EQ(box.openai_tools().size(), 1u);
  EXPECT_EQ(box.openai_tools()[0]["function"]["name"], "python");
  CallRecord r = box.call("1", "python", R"j({"code": "print(sum(range(5)))"})j");
  ASSERT_TRUE(r.ok) << r.result;
  const ojson j = ojson::parse(r.result);
  EXPECT_EQ(j["stdout"], "10\n");
  EXPECT_EQ(j["exit_code"], 0);
  r = box.call("2", "python", R"j({"code": "raise ValueError('no')"})j");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(ojson::parse(r.result)["error"].get<std::string>().find("ValueError: no"), std::string::npos) << r.result;
  r = box.call("3", "python", R"j({"source": "print(1)"})j");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.result.find("'code'"), std::string::npos) << r.result;
}

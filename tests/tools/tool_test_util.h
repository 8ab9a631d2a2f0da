// What the tool-call tests share: the chat templates they render with (tests/tools/templates and
// the shared test data's chat-templates) and the two tools every conversation offers.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tools/tools.h"

namespace helix::tools::test {

inline std::string read_template(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
inline std::string shared_template(const std::string& name) {
  return read_template(std::string(HELIX_TESTDATA) + "/chat-templates/" + name + ".jinja");
}
inline std::string own_template(const std::string& name) {
  return read_template(std::string(HELIX_SOURCE_DIR) + "/tests/tools/templates/" + name + ".jinja");
}

// Parameters with descriptions: Command R+'s template prints them and fails without.
inline const ojson kTools = ojson::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                  "required": ["city"]}}},
  {"type": "function", "function": {"name": "add", "description": "Adds", "parameters": {"type": "object",
   "properties": {"a": {"type": "integer", "description": "first"}, "b": {"type": "integer", "description": "second"}},
   "required": ["a", "b"]}}}])");

}  // namespace helix::tools::test

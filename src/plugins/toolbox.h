// Toolbox: the tools of a set of plugins as the model sees them (OpenAI `tools`), and calls routed
// to the plugin that serves them, with the manifest's permissions applied. A call never throws:
// whatever goes wrong (bad arguments, a tool the model may not call, a plugin that hangs, crashes
// or answers garbage) becomes an error record whose text is what the model is told.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "plugins/manifest.h"
#include "plugins/plugin.h"

namespace helix::plugins {

struct CallRecord {
  std::string id;         // the model's tool call id
  std::string plugin, tool;
  std::string arguments;  // JSON text, as the model wrote it
  bool ok = false;
  std::string result;     // the tool's output, or the error
  double seconds = 0;
};

class Toolbox {
 public:
  Toolbox(std::vector<Manifest> manifests, Context ctx);
  ~Toolbox();

  // Connects to every plugin and lists its tools (the first time); throws naming the plugin that
  // fails. Tools a plugin's permissions do not allow are left out. Names are the tools' own
  // names; a name two plugins share is given as PLUGIN_TOOL.
  const ojson& openai_tools();
  CallRecord call(const std::string& id, const std::string& name, const std::string& arguments);
  // Lists one plugin's tools as it exposes them (permissions not applied), for `helix plugin test`.
  std::vector<ToolSpec> plugin_tools(const std::string& plugin);

 private:
  struct Entry;
  struct Route {
    size_t entry;
    std::string tool;
  };
  Entry& entry(size_t i);
  void list();

  std::vector<std::unique_ptr<Entry>> entries_;
  Context ctx_;
  bool listed_ = false;
  ojson tools_ = ojson::array();
  std::vector<std::pair<std::string, Route>> routes_;
};

}  // namespace helix::plugins

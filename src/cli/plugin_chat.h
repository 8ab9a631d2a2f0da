// `helix chat --plugins NAME...`: each turn runs the tool loop (plugins/loop.h) on the chat's
// session. The model's calls and their results are shown as they happen, then the answer.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/gen_options.h"
#include "plugins/loop.h"

namespace helix::cli {

// The chat flags of plugins, taken out of argv before the generation options are parsed.
struct PluginFlags {
  std::vector<std::string> names;  // --plugins a,b or --plugins a b ...
  bool no_adapter = false;         // --no-adapter: not the installed assistant adapter
  int max_steps = 4;               // --max-tool-steps N
  std::string tool_choice = "auto";  // --tool-choice auto|required|TOOL (first step of each turn)
  std::string kb_dir;              // --kb-dir DIR (the kb plugin)
};
// Removes the flags above from args (args[0] is the command name) and returns them.
PluginFlags take_plugin_flags(std::vector<std::string>& args);

// Where the kb plugin finds knowledge bases: `given`, else $XDG_DATA_HOME/helix/kb.
std::string plugin_kb_dir(const std::string& given);

class PluginChat {
 public:
  PluginChat(const PluginFlags& f, GenOptions& o, Loaded& l, std::string tmpl);
  ~PluginChat();
  // Runs one user turn: messages ends with the user's message; the assistant's turns, tool calls
  // and tool results are appended. Prints calls, results and the answer to stdout.
  void turn(nlohmann::ordered_json& messages, runtime::Session& session, int64_t reply_room,
            const std::atomic<bool>* cancel);

 private:
  nlohmann::ordered_json generate(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                  const nlohmann::ordered_json& choice);

  const PluginFlags f_;
  GenOptions& o_;
  Loaded& l_;
  std::string tmpl_;
  std::unique_ptr<plugins::Toolbox> box_;
  std::shared_ptr<const grammar::Vocabulary> vocab_;
  plugins::LoopOptions loop_;
  runtime::Session* session_ = nullptr;
  int64_t room_ = 0;
  const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace helix::cli

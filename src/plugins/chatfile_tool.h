// The "chatfile" built-in: ChatFile (src/chatfile) as tools the model (or another agent, through
// Helix's MCP server) can call on a document:
//   document_summary {document, task: summary|topics|key_points|minutes}  -> ChatFile's JSON result
//   document_ask     {document, question}                                 -> a cited answer
// `document` is the id of a file uploaded to the server (POST /v1/files: "file-...") or the path
// of a local file under the allowed folder (docs_dir; none when empty). Paths that leave that
// folder (.., symlinks out of it) are refused: the model cannot read arbitrary files.
#pragma once

#include <string>
#include <vector>

#include "plugins/plugin.h"

namespace helix::chatfile {
class Backend;
}

namespace helix::plugins {

struct DocTools {
  chatfile::Backend* backend = nullptr;   // the language model (null: the tools say they cannot run)
  model::BertEncoder* encoder = nullptr;  // for document_ask's index (null: questions are refused)
  std::string files_dir;                  // uploaded files, one folder per id (the server's /v1/files)
  std::string docs_dir;                   // local documents: this folder and below ("": none)
  std::string cache_dir;                  // ChatFile's cache ("": its default)
  // Runs index building where the model's engine allows it (the server: between engine steps).
  std::function<void(const std::function<void()>&)> between_steps;
};

std::vector<ToolSpec> chatfile_tools();
// Runs one of chatfile_tools(); throws helix::Error for bad arguments or a document that cannot
// be read (the message says what to do).
ToolResult call_chatfile_tool(const DocTools& d, const std::string& tool, const ojson& args);

// The file an uploaded file's id names (files_dir/ID/NAME from its meta.json); throws if unknown.
std::string uploaded_file(const std::string& files_dir, const std::string& id);
// The built-in's executor (make_builtin("chatfile", ctx)): ctx.docs, or tools that say they need the model.
std::unique_ptr<Executor> make_chatfile_builtin(const Context& ctx);
// $XDG_DATA_HOME/helix/files (the server's uploads).
std::string default_files_dir();

}  // namespace helix::plugins

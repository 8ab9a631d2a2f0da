// Where `helix` finds the default model when no -m is given.
#pragma once

#include <string>
#include <vector>

namespace helix::cli {

// $HELIX_MODEL if set, else $XDG_DATA_HOME/helix/models/default.gguf (falling back to
// ~/.local/share/helix/models/default.gguf), which scripts/setup.sh installs.
std::string default_model_path();
// The path to use for -m: `given` if non-empty, else the default; throws with a hint to run
// scripts/setup.sh when the default is missing.
std::string resolve_model_path(const std::string& given);
// The embedding model to use: `given` if non-empty, else $HELIX_EMBED_MODEL, else the directory
// $XDG_DATA_HOME/helix/models/embed (all-MiniLM-L6-v2, installed by scripts/setup.sh); throws
// with a hint when none is installed.
std::string resolve_embed_model_path(const std::string& given);
// Where scripts/setup.sh installs all-MiniLM-L6-v2.
std::string installed_embed_model_dir();
// Where the assistant adapter (the LoRA made by recipes/assistant, `helix sft ... --install`)
// is installed: $XDG_DATA_HOME/helix/adapters/assistant.gguf (falling back to
// ~/.local/share/helix/adapters/assistant.gguf), whether or not it exists.
std::string assistant_adapter_install_path();
// That path if the adapter is installed there, else "". Features that generate text for users
// (ask, chatfile, plugins) use it by default when it exists (`--no-adapter` turns it off).
std::string installed_assistant_adapter();
// The one rule for features that default to the assistant adapter: when `wanted` and the user gave no
// --lora, the installed adapter (if any) is appended to `lora` and its path returned; otherwise ""
// and `lora` is left alone (--lora replaces the installed adapter, never stacks on it).
std::string use_installed_adapter(std::vector<std::string>& lora, bool wanted);

}  // namespace helix::cli

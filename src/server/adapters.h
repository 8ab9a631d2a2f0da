// The named LoRA adapters a server serves (helix serve --lora NAME=FILE; a request picks one with
// the model name ALIAS:NAME), switchable while it serves: POST /v1/adapters and the flywheel's
// registry watch (helix serve --flywheel-db) load a new file under a name without a restart.
//
// A request resolves its adapter once, in Pipeline::prepare, and keeps it by shared_ptr in its
// GenParams (GenParams::hold) until its last sequence finishes: requests in flight keep the
// adapter they started with, new requests get the new one, nothing is dropped. A replaced
// adapter's factors are freed at the next switch after the last request that used it finished
// (Model::remove_lora_set). The model's sets change only on the engine
// thread, between two steps.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/model.h"
#include "server/api_json.h"

namespace helix::server {

class Engine;

// Set ids whose adapters were replaced and are no longer used by any request.
struct RetiredSets {
  std::mutex mu;
  std::vector<int> ids;
};

struct ServedAdapter {
  std::string name;           // NAME of ALIAS:NAME
  std::string path;           // the file(s), comma-joined when one name combines several
  std::string sha256;         // of the file ("" for combined names)
  std::string chat_template;  // helix.chat_template of the adapter ("" when it has none)
  std::string source;         // "--lora", "POST /v1/adapters", "flywheel #ID", ...
  int set = 0;                // the model's adapter set
  int64_t loaded_at = 0;      // Unix seconds
  int64_t version = 1;        // 1 for the first adapter under the name, +1 per switch
  std::shared_ptr<RetiredSets> retired;
  ServedAdapter() = default;
  ServedAdapter(const ServedAdapter&) = delete;
  ServedAdapter& operator=(const ServedAdapter&) = delete;
  ~ServedAdapter();  // hands its set to `retired`
};

class ServedAdapters {
 public:
  ServedAdapters(Engine& eng, std::shared_ptr<model::Model> model);

  // The adapters loaded before the engine started (helix serve --lora NAME=FILE): NAME -> set id,
  // with each name's files (cli/lora_flags.h).
  void adopt(const std::string& name, int set, const std::vector<std::string>& paths, const std::string& chat_template);
  // Loads `path` under `name` (new or replacing) and returns the new entry. Checks the file
  // against the model first, so a bad file leaves the served adapter as it was (throws
  // helix::Error saying what is wrong). Loads run one at a time.
  std::shared_ptr<const ServedAdapter> load(const std::string& name, const std::string& path, const std::string& source);
  std::shared_ptr<const ServedAdapter> find(const std::string& name) const;  // null when none
  std::vector<std::shared_ptr<const ServedAdapter>> all() const;            // by name
  bool empty() const;

 private:
  Engine& eng_;
  std::shared_ptr<model::Model> model_;
  std::shared_ptr<RetiredSets> retired_ = std::make_shared<RetiredSets>();
  mutable std::mutex mu_;  // by_name_
  std::mutex load_mu_;     // one load at a time
  std::map<std::string, std::shared_ptr<const ServedAdapter>> by_name_;
};

// GET /v1/adapters: {"object": "list", "data": [entry...]}; an entry: {"name", "model": ALIAS:NAME,
// "path", "sha256", "source", "version", "loaded_at", "chat_template": bool}.
ojson adapter_json(const ServedAdapter& a, const std::string& model_id);
// The POST /v1/adapters body {"name": NAME, "path": FILE} -> (name, path); throws ApiError 400.
std::pair<std::string, std::string> parse_adapter_request(const std::string& body);

}  // namespace helix::server

// Model: a loaded language model that runs batches of tokens against a KV cache. Architectures
// register themselves by name (model/registry.cpp: one line each); load_model() reads the GGUF
// file's general.architecture and builds the matching one.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/batch.h"
#include "model/hparams.h"
#include "model/kv_cache.h"
#include "model/lora.h"

namespace helix::model {

class Model {
 public:
  virtual ~Model() = default;
  const HParams& hparams() const { return hp_; }
  const gguf::GGUFFile& file() const { return *file_; }
  std::shared_ptr<const gguf::GGUFFile> file_ptr() const { return file_; }

  // Runs the batch: writes its keys and values into `kv` and stores, for each token flagged
  // want_logits (in batch order), a row of n_vocab logits in `logits`.
  virtual void forward(const Batch& batch, KVCache& kv, std::vector<float>& logits) = 0;

  // LoRA adapters at inference. add_lora_set checks the adapters against this model (throws
  // helix::Error naming the adapter and the tensor) and returns the set's id (> 0; 0 is the base
  // model alone). Every sequence uses the default set unless set_seq_lora chose another for it,
  // so one batch may mix sequences under different adapters.
  virtual int add_lora_set(const std::vector<LoraUse>& uses);
  // Frees a set's factors once no sequence uses it (a replaced served adapter, an evaluated
  // checkpoint); its id stays taken and now means the base model alone. Not during forward.
  virtual void remove_lora_set(int /*set*/) {}
  void set_default_lora(int set) { default_lora_ = set; }
  void set_seq_lora(int seq, int set) {  // set < 0: back to the default
    if (set < 0) seq_lora_.erase(seq); else seq_lora_[seq] = set;
  }
  int lora_set_for(int seq) const {
    if (seq_lora_.empty()) return default_lora_;
    auto it = seq_lora_.find(seq);
    return it == seq_lora_.end() ? default_lora_ : it->second;
  }

  // Optional profiling: time per op type, accumulated across forward calls.
  void set_profiling(bool on) { profiling_ = on; }

 protected:
  Model(std::shared_ptr<const gguf::GGUFFile> f, HParams hp) : file_(std::move(f)), hp_(std::move(hp)) {}
  std::shared_ptr<const gguf::GGUFFile> file_;
  HParams hp_;
  bool profiling_ = false;
  int default_lora_ = 0;
  std::map<int, int> seq_lora_;
};

using ModelFactory = std::function<std::unique_ptr<Model>(std::shared_ptr<const gguf::GGUFFile>)>;

// Loads a GGUF model file (weights stay memory-mapped). Throws helix::Error naming the file and
// what is wrong: unreadable file, unknown architecture, missing tensor or hyper-parameter.
std::unique_ptr<Model> load_model(const std::string& path);
std::unique_ptr<Model> load_model(std::shared_ptr<const gguf::GGUFFile> file);
std::vector<std::string> supported_architectures();

}  // namespace helix::model

// Model: a loaded language model that runs batches of tokens against a KV cache. Architectures
// register themselves by name (model/registry.cpp: one line each); load_model() reads the GGUF
// file's general.architecture and builds the matching one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/batch.h"
#include "model/hparams.h"
#include "model/kv_cache.h"

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

  // Optional profiling: time per op type, accumulated across forward calls.
  void set_profiling(bool on) { profiling_ = on; }

 protected:
  Model(std::shared_ptr<const gguf::GGUFFile> f, HParams hp) : file_(std::move(f)), hp_(std::move(hp)) {}
  std::shared_ptr<const gguf::GGUFFile> file_;
  HParams hp_;
  bool profiling_ = false;
};

using ModelFactory = std::function<std::unique_ptr<Model>(std::shared_ptr<const gguf::GGUFFile>)>;

// Loads a GGUF model file (weights stay memory-mapped). Throws helix::Error naming the file and
// what is wrong: unreadable file, unknown architecture, missing tensor or hyper-parameter.
std::unique_ptr<Model> load_model(const std::string& path);
std::unique_ptr<Model> load_model(std::shared_ptr<const gguf::GGUFFile> file);
std::vector<std::string> supported_architectures();

}  // namespace helix::model

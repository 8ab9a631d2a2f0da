// Shared by the training tests that read the PyTorch references (tests/python/data/train_ref).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/tiny.h"
#include "train/model.h"

namespace helix::train {

inline const std::string kRefDir = std::string(HELIX_SOURCE_DIR) + "/tests/python/data/train_ref/";

inline std::string fnv1a64(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : ss.str()) h = (h ^ c) * 0x100000001b3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Writes the model the reference used, from its `helix tiny-model` arguments.
inline std::string write_model(const gguf::GGUFFile& ref, const std::string& name) {
  std::istringstream in(ref.get_string("ref.model_args", ""));
  std::vector<std::string> args;
  for (std::string a; std::getline(in, a, '\t');) args.push_back(a);
  model::TinySpec s;
  s.arch = args.at(1);
  for (size_t i = 3; i + 1 < args.size(); i += 2) {
    const std::string& k = args[i];
    const std::string& v = args[i + 1];
    if (k == "--type") s.weight_type = *dtype_from_name(v);
    else if (k == "--seed") s.seed = std::stoull(v);
    else {
      int64_t& d = k == "--embd" ? s.n_embd : k == "--ff" ? s.n_ff : k == "--heads" ? s.n_head : k == "--kv-heads" ? s.n_head_kv
                 : k == "--head-dim" ? s.head_dim : k == "--vocab" ? s.n_vocab : s.n_swa;
      d = std::stoll(v);
    }
  }
  // The process id keeps parallel test processes (ctest -j) from writing the same file.
  const std::string path =
      (std::filesystem::temp_directory_path() / ("helix_train_ref_" + std::to_string(getpid()) + "_" + name)).string();
  model::write_tiny_model(s, path);
  return path;
}

template <typename T>
std::vector<T> values(const gguf::GGUFFile& f, const std::string& name) {
  const Tensor t = f.tensor(name);
  const T* p = t.data_as<T>();
  return std::vector<T>(p, p + t.numel());
}

// Every trainable parameter's gradient against the reference tensors `prefix + name`: each within
// tol of that tensor's largest |value| (gtest failures name the parameter). Returns the worst
// relative error and sets *checked to the number of parameters compared.
inline double check_grads(TrainModel& m, const gguf::GGUFFile& ref, const std::string& prefix, double tol, int* checked) {
  double worst = 0;
  *checked = 0;
  for (Param* p : m.trainable()) {
    const auto want = values<float>(ref, prefix + p->name);
    EXPECT_EQ(want.size(), p->grad.size()) << p->name;
    if (want.size() != p->grad.size()) continue;
    double mx = 1e-30, err = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      mx = std::max(mx, static_cast<double>(std::abs(want[i])));
      err = std::max(err, static_cast<double>(std::abs(p->grad[i] - want[i])));
    }
    worst = std::max(worst, err / mx);
    EXPECT_LE(err, tol * mx) << p->name << ": max error " << err << ", max |grad| " << mx;
    ++*checked;
  }
  return worst;
}

// The batch stored under prefix ("batch." or "mb3.").
inline TrainBatch stored_batch(const gguf::GGUFFile& f, const std::string& prefix) {
  TrainBatch b;
  b.tokens = values<int32_t>(f, prefix + "tokens");
  b.targets = values<int32_t>(f, prefix + "targets");
  b.pos = values<int32_t>(f, prefix + "pos");
  b.start = values<int32_t>(f, prefix + "start");
  return b;
}

}  // namespace helix::train

// Developer subcommands used by the reference tests:
//   helix tiny-model ARCH OUT.gguf [--type T] [--seed N] [--tied] [--layers N] [--rope-freqs]
//                    [--embd N --ff N --heads N --kv-heads N --head-dim N --vocab N --swa N]
//                    [--kv KEY=TYPE:VALUE]... [--extra-tensor NAME]... [--drop-tensor NAME]...
//   helix logits -m MODEL --tokens "1,2,3;4,5" [--chunk N] [--ctx N] --out FILE.f32
// `logits` runs each ';'-separated sequence (all in the same batches, as separate sequences),
// prefilling `--chunk` tokens per step (default: all at once; 1 = token by token), and writes
// every position's logits as raw little-endian f32, sequence after sequence.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/lora_flags.h"
#include "core/error.h"
#include "model/model.h"
#include "model/tiny.h"

namespace helix::cli {

int cmd_tiny_model(int argc, char** argv) {
  HELIX_CHECK(argc >= 3, "usage: helix tiny-model ARCH OUT.gguf [--type T] [--seed N] [--tied] [--layers N]");
  model::TinySpec s;
  s.arch = argv[1];
  const std::string out = argv[2];
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      HELIX_CHECK(i + 1 < argc, "option ", a, " needs a value");
      return argv[++i];
    };
    if (a == "--type") {
      const auto t = dtype_from_name(next());
      HELIX_CHECK(t, "unknown type");
      s.weight_type = *t;
    } else if (a == "--seed") {
      s.seed = std::stoull(next());
    } else if (a == "--layers") {
      s.n_layer = std::stoll(next());
    } else if (a == "--embd" || a == "--ff" || a == "--heads" || a == "--kv-heads" || a == "--head-dim" ||
               a == "--vocab" || a == "--swa") {  // smaller shapes (the training references)
      const int64_t v = std::stoll(next());
      int64_t& dst = a == "--embd" ? s.n_embd : a == "--ff" ? s.n_ff : a == "--heads" ? s.n_head
                   : a == "--kv-heads" ? s.n_head_kv : a == "--head-dim" ? s.head_dim : a == "--vocab" ? s.n_vocab : s.n_swa;
      dst = v;
    } else if (a == "--tied") {
      s.tied_output = true;
    } else if (a == "--rope-freqs") {
      s.rope_freqs = true;
    } else if (a == "--kv") {
      s.extra_kv.push_back(next());
    } else if (a == "--extra-tensor") {
      s.extra_tensors.push_back(next());
    } else if (a == "--drop-tensor") {
      s.drop_tensors.push_back(next());
    } else {
      throw Error(cat("unknown option ", a));
    }
  }
  model::write_tiny_model(s, out);
  return 0;
}

int cmd_logits(int argc, char** argv) {
  std::string path, tokens_arg, out;
  int64_t chunk = 0, n_ctx = 2048;
  std::vector<std::string> lora;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      HELIX_CHECK(i + 1 < argc, "option ", a, " needs a value");
      return argv[++i];
    };
    if (a == "-m") path = next();
    else if (a == "--tokens") tokens_arg = next();
    else if (a == "--chunk") chunk = std::stoll(next());
    else if (a == "--ctx" || a == "-c") n_ctx = std::stoll(next());
    else if (a == "--out") out = next();
    else if (a == "--lora") lora.push_back(next());
    else throw Error(cat("unknown option ", a));
  }
  HELIX_CHECK(!tokens_arg.empty() && !out.empty(), "usage: helix logits -m MODEL --tokens 1,2;3 --out FILE [--lora FILE[:SCALE]]");
  std::vector<std::vector<int32_t>> seqs;
  std::stringstream ss(tokens_arg);
  for (std::string part; std::getline(ss, part, ';');) {
    std::vector<int32_t> ids;
    std::stringstream ps(part);
    for (std::string t; std::getline(ps, t, ',');) ids.push_back(std::stoi(t));
    HELIX_CHECK(!ids.empty(), "empty sequence in --tokens");
    seqs.push_back(ids);
  }
  auto m = model::load_model(resolve_model_path(path));
  apply_default_loras(lora, *m);
  const int64_t V = m->hparams().n_vocab;
  model::KVCache kv(m->hparams(), n_ctx, static_cast<int>(seqs.size()));
  std::vector<std::vector<float>> result(seqs.size());
  size_t longest = 0;
  for (const auto& s : seqs) longest = std::max(longest, s.size());
  const size_t step = chunk > 0 ? static_cast<size_t>(chunk) : longest;
  std::vector<float> logits;
  for (size_t start = 0; start < longest; start += step) {
    model::Batch b;
    for (size_t s = 0; s < seqs.size(); ++s)
      for (size_t p = start; p < std::min(seqs[s].size(), start + step); ++p)
        b.add(seqs[s][p], static_cast<int64_t>(p), static_cast<int32_t>(s), true);
    m->forward(b, kv, logits);
    for (int64_t t = 0; t < b.size(); ++t) {
      auto& r = result[static_cast<size_t>(b.seq[static_cast<size_t>(t)])];
      r.insert(r.end(), logits.begin() + t * V, logits.begin() + (t + 1) * V);
    }
  }
  std::ofstream f(out, std::ios::binary);
  for (const auto& r : result) f.write(reinterpret_cast<const char*>(r.data()), static_cast<std::streamsize>(r.size() * 4));
  HELIX_CHECK(f.good(), "cannot write ", out);
  return 0;
}

}  // namespace helix::cli

// helix lora merge BASE ADAPTER OUT [--scale S] [--type TYPE]: writes BASE with a LoRA adapter
// merged into its weights, W' = W + S * (alpha / rank) * B·A, so that the result runs without
// the adapter. Each adapted tensor is dequantized, updated in f32 and quantized again with
// Helix's quantizers: to its own type by default, or to TYPE (a plain type or a mix such as
// Q4_K_M, chosen per tensor as `helix quantize` does).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/convert_model.h"
#include "core/error.h"
#include "core/files.h"
#include "io/gguf.h"
#include "model/lora.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix lora merge BASE.gguf ADAPTER.gguf OUT.gguf [--scale S] [--type TYPE]\n"
    "  Merges a LoRA adapter (GGUF, llama.cpp layout) into the base model's weights.\n"
    "  --scale S    the adapter's scale (default 1; multiplies alpha / rank)\n"
    "  --type TYPE  weight type of the result: F32 F16 BF16 Q8_0 Q4_0 ... Q6_K, or Q4_K_M / Q5_K_M\n"
    "               (default: every tensor keeps the base model's type)\n"
    "usage: helix lora random BASE.gguf OUT.gguf [--rank R] [--alpha A] [--std X] [--seed S]\n"
    "                         [--targets attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down,output,token_embd]\n"
    "                         [--type f32|f16] [--chat-template FILE]\n"
    "  (for tests and benchmarks) writes an adapter with random factors (normal, std X, default 0.02)\n"
    "  for the listed projections of every layer (default: the seven attention and FFN projections),\n"
    "  stored as f32 (default) or f16 (as helix sft writes adapters); --chat-template stores a Jinja\n"
    "  template in it (helix.chat_template, as helix sft does with a recipe's chat_template).\n";

int lora_merge(const std::vector<std::string>& args) {
  std::vector<std::string> pos;
  std::string type;
  float scale = 1.0f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto val = [&]() -> std::string {
      HELIX_CHECK(i + 1 < args.size(), "option ", a, " needs a value (see helix lora --help)");
      return args[++i];
    };
    if (a == "--scale") {
      const std::string v = val();
      char* end = nullptr;
      scale = std::strtof(v.c_str(), &end);
      HELIX_CHECK(!v.empty() && *end == '\0', "--scale wants a number, got '", v, "'");
    } else if (a == "--type") {
      type = val();
    } else if (!a.empty() && a[0] == '-') {
      throw Error(cat("unknown option '", a, "' of helix lora merge (see helix lora --help)"));
    } else {
      pos.push_back(a);
    }
  }
  HELIX_CHECK(pos.size() == 3, "helix lora merge wants BASE ADAPTER OUT, got ", pos.size(), " file names\n", kUsage);
  const gguf::GGUFFile base = gguf::GGUFFile::open(pos[0]);
  model::LoraUse use;
  use.adapter = std::make_shared<const model::LoraAdapter>(model::load_lora(pos[1]));
  use.scale = scale;
  use.path = pos[1];
  model::check_lora(*use.adapter, base, pos[1]);
  HELIX_CHECK(!use.adapter->weights.count("token_embd.weight") || base.find_tensor("output.weight"), "'", pos[1],
              "' adapts token_embd.weight, which '", pos[0], "' also uses as its output head (tied embeddings): "
              "merged, the update would change the output head as well; apply this adapter with --lora instead");
  std::fprintf(stderr, "merging %s (%zu tensors, alpha %g) at scale %g into %s\n", pos[1].c_str(),
               use.adapter->weights.size(), static_cast<double>(use.adapter->alpha), static_cast<double>(scale),
               pos[0].c_str());
  const std::vector<model::LoraUse> uses{use};
  convert_model(base, pos[2], type, [&](const gguf::TensorInfo& ti) {
    return use.adapter->weights.count(ti.name) ? model::merge_lora_weight(base, ti, uses) : std::vector<float>();
  });
  return 0;
}

// The base tensors that `targets` (short names such as attn_q, output, token_embd) select.
std::vector<const gguf::TensorInfo*> select_targets(const gguf::GGUFFile& base, const std::string& targets) {
  std::vector<std::string> want;
  std::stringstream ss(targets);
  for (std::string t; std::getline(ss, t, ',');) want.push_back(t);
  std::vector<const gguf::TensorInfo*> out;
  std::set<std::string> used;
  for (const gguf::TensorInfo& t : base.tensors()) {
    if (t.n_dims != 2) continue;
    for (const std::string& w : want) {
      const std::string tail = "." + w + ".weight";  // blk.N.<w>.weight
      const bool layer = t.name.size() > tail.size() && t.name.compare(t.name.size() - tail.size(), tail.size(), tail) == 0;
      if (t.name == w + ".weight" || layer) {
        out.push_back(&t);
        used.insert(w);
      }
    }
  }
  for (const std::string& w : want)
    HELIX_CHECK(used.count(w), "--targets: the model '", base.path(), "' has no '", w, "' tensor");
  return out;
}

int lora_random(const std::vector<std::string>& args) {
  std::vector<std::string> pos;
  int64_t rank = 8;
  float alpha = -1, stddev = 0.02f;
  uint64_t seed = 1;
  std::string targets = "attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down", type = "f32", tmpl;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto val = [&]() -> std::string {
      HELIX_CHECK(i + 1 < args.size(), "option ", a, " needs a value (see helix lora --help)");
      return args[++i];
    };
    if (a == "--rank") rank = std::stoll(val());
    else if (a == "--alpha") alpha = std::stof(val());
    else if (a == "--std") stddev = std::stof(val());
    else if (a == "--seed") seed = std::stoull(val());
    else if (a == "--targets") targets = val();
    else if (a == "--type") type = val();
    else if (a == "--chat-template") tmpl = read_file(val(), "chat template");
    else if (!a.empty() && a[0] == '-') throw Error(cat("unknown option '", a, "' of helix lora random"));
    else pos.push_back(a);
  }
  HELIX_CHECK(pos.size() == 2, "helix lora random wants BASE OUT\n", kUsage);
  HELIX_CHECK(rank > 0, "--rank must be positive");
  const gguf::GGUFFile base = gguf::GGUFFile::open(pos[0]);
  model::LoraAdapter a;
  a.arch = base.architecture();
  a.alpha = alpha < 0 ? static_cast<float>(rank) : alpha;
  a.name = "random-r" + std::to_string(rank);
  a.chat_template = tmpl;
  HELIX_CHECK(type == "f32" || type == "f16", "--type must be f32 or f16, not '", type, "'");
  a.factor_type = type == "f16" ? DType::F16 : DType::F32;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, stddev);
  for (const gguf::TensorInfo* t : select_targets(base, targets)) {
    const bool emb = model::lora_is_embedding(t->name);
    model::LoraPair p;
    p.rank = rank;
    p.n_in = emb ? t->ne[1] : t->ne[0];
    p.n_out = emb ? t->ne[0] : t->ne[1];
    p.a.resize(static_cast<size_t>(rank * p.n_in));
    p.b.resize(static_cast<size_t>(p.n_out * rank));
    for (float& v : p.a) v = nd(rng);
    for (float& v : p.b) v = nd(rng);
    a.weights.emplace(t->name, std::move(p));
  }
  model::save_lora(a, pos[1]);
  std::fprintf(stderr, "wrote %s: %zu tensors, rank %lld, alpha %g\n", pos[1].c_str(), a.weights.size(),
               static_cast<long long>(rank), static_cast<double>(a.alpha));
  return 0;
}

}  // namespace

int cmd_lora(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "merge") {
    args.erase(args.begin());
    for (const auto& a : args)
      if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      }
    return lora_merge(args);
  }
  if (args[0] == "random") return lora_random({args.begin() + 1, args.end()});
  throw Error(cat("unknown subcommand 'helix lora ", args[0], "'; there are: merge, random\n", kUsage));
}

}  // namespace helix::cli

#include "train/reward.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include "core/error.h"
#include "model/lora.h"
#include "train/ops.h"

namespace helix::train {

const char* rm_level_name(RmLevel l) { return l == RmLevel::Step ? "step" : "response"; }

RmLevel rm_level_from_name(const std::string& name) {
  if (name == "response") return RmLevel::Response;
  if (name == "step") return RmLevel::Step;
  throw Error(cat("unknown reward level '", name, "'; use 'response' (chosen/rejected pairs) or 'step' (per-step labels)"));
}

namespace {

double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

void init_param(Param& p, const std::string& name, int64_t n) {
  p.name = name;
  p.ne = {n};
  p.value.assign(static_cast<size_t>(n), 0.0f);
  p.grad.assign(static_cast<size_t>(n), 0.0f);
}

}  // namespace

RewardModel::RewardModel(std::unique_ptr<TrainModel> base, const std::vector<std::pair<std::string, RmLevel>>& heads,
                         uint64_t seed)
    : base_(std::move(base)) {
  HELIX_CHECK(!heads.empty(), "a reward model needs at least one head (aspect)");
  const int64_t E = base_->hparams().n_embd;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  for (const auto& [aspect, level] : heads) {
    HELIX_CHECK(!aspect.empty() && aspect.find_first_of(" \t\n.") == std::string::npos, "reward aspect name '",
                aspect, "' must be a non-empty word without spaces or dots (it names the tensors rm.head.<aspect>.*)");
    HELIX_CHECK(head_index(aspect) < 0, "two reward heads are named '", aspect, "'");
    RmHead& h = heads_.emplace_back();
    h.aspect = aspect;
    h.level = level;
    init_param(h.w, "rm.head." + aspect + ".weight", E);
    init_param(h.b, "rm.head." + aspect + ".bias", 1);
    if (seed != 0)
      for (float& v : h.w.value) v = nd(rng);
  }
}

int RewardModel::head_index(const std::string& aspect) const {
  for (size_t i = 0; i < heads_.size(); ++i)
    if (heads_[i].aspect == aspect) return static_cast<int>(i);
  return -1;
}

std::vector<Param*> RewardModel::head_params() {
  std::vector<Param*> out;
  for (RmHead& h : heads_) out.insert(out.end(), {&h.w, &h.b});
  return out;
}

void RewardModel::head_forward(const float* x, const std::vector<int64_t>& pos, std::vector<float>& xn,
                               std::vector<float>& r) const {
  const int64_t E = base_->hparams().n_embd, H = static_cast<int64_t>(heads_.size());
  const size_t n = pos.size();
  xn.resize(n * static_cast<size_t>(E));
  r.resize(n * static_cast<size_t>(H));
  for (size_t i = 0; i < n; ++i) {
    float* xi = xn.data() + i * static_cast<size_t>(E);
    rmsnorm_forward(x + pos[i] * E, base_->output_norm().value.data(), xi, 1, E, base_->hparams().norm_eps);
    for (int64_t h = 0; h < H; ++h) {
      const RmHead& hd = heads_[static_cast<size_t>(h)];
      double s = hd.b.value[0];
      for (int64_t e = 0; e < E; ++e) s += static_cast<double>(hd.w.value[static_cast<size_t>(e)]) * xi[e];
      r[i * static_cast<size_t>(H) + static_cast<size_t>(h)] = static_cast<float>(s);
    }
  }
}

RmLoss RewardModel::forward_backward(const TrainBatch& b, const RmTerms& t, float grad_scale, bool backward) {
  const int64_t E = base_->hparams().n_embd, H = static_cast<int64_t>(heads_.size()), T = b.size();
  std::vector<int64_t> pos;
  std::map<int64_t, size_t> index;
  auto at = [&](int64_t p) {
    HELIX_CHECK(p >= 0 && p < T, "reward score position ", p, " is outside the batch of ", T, " tokens");
    auto [it, added] = index.emplace(p, pos.size());
    if (added) pos.push_back(p);
    return it->second;
  };
  auto head = [&](int h) {
    HELIX_CHECK(h >= 0 && h < H, "reward head ", h, " does not exist (", H, " heads)");
    return static_cast<size_t>(h);
  };
  for (const RmPairTerm& p : t.pairs) {
    HELIX_CHECK(p.chosen != p.rejected, "a reward pair scores the same position twice (", p.chosen, ")");
    at(p.chosen);
    at(p.rejected);
    head(p.head);
  }
  for (const RmStepTerm& s : t.steps) {
    at(s.pos);
    head(s.head);
  }
  RmLoss out;
  base_->forward_hidden(
      b,
      [&](const float* x, float* dx) {
        std::vector<float> xn, r, dr(pos.size() * static_cast<size_t>(H), 0.0f);
        head_forward(x, pos, xn, r);
        auto cell = [&](size_t i, int h) { return i * static_cast<size_t>(H) + static_cast<size_t>(h); };
        for (const RmPairTerm& p : t.pairs) {
          const size_t c = cell(index[p.chosen], p.head), j = cell(index[p.rejected], p.head);
          const double z = static_cast<double>(r[c]) - r[j] - t.margin;
          out.pair += p.weight * softplus(-z);  // −log σ(z)
          out.n_pairs++;
          out.pairs_right += r[c] > r[j];
          const double g = -sigmoid(-z) * p.weight * grad_scale;  // d/dz
          dr[c] += static_cast<float>(g);
          dr[j] -= static_cast<float>(g);
        }
        for (const RmStepTerm& s : t.steps) {
          const size_t c = cell(index[s.pos], s.head);
          const double z = r[c];
          out.step += s.weight * (softplus(z) - s.label * z);  // BCE with logits
          out.n_steps++;
          out.steps_right += (z > 0) == (s.label >= 0.5f);
          dr[c] += static_cast<float>((sigmoid(z) - s.label) * s.weight * grad_scale);
        }
        if (!backward) return;
        if (dx) std::fill(dx, dx + E * T, 0.0f);
        std::vector<float> dxn(static_cast<size_t>(E));
        for (size_t i = 0; i < pos.size(); ++i) {
          std::fill(dxn.begin(), dxn.end(), 0.0f);
          const float* xi = xn.data() + i * static_cast<size_t>(E);
          for (int64_t h = 0; h < H; ++h) {
            const float g = dr[cell(i, static_cast<int>(h))];
            if (g == 0.0f) continue;
            RmHead& hd = heads_[static_cast<size_t>(h)];
            for (int64_t e = 0; e < E; ++e) {
              if (hd.shapes_base) dxn[static_cast<size_t>(e)] += g * hd.w.value[static_cast<size_t>(e)];
              hd.w.grad[static_cast<size_t>(e)] += g * xi[e];
            }
            hd.b.grad[0] += g;
          }
          if (dx)
            rmsnorm_backward(x + pos[i] * E, base_->output_norm().value.data(), dxn.data(), dx + pos[i] * E, nullptr,
                             1, E, base_->hparams().norm_eps, false);
        }
      },
      backward && train_base_);
  return out;
}

std::vector<float> RewardModel::scores(const TrainBatch& b, const std::vector<int64_t>& pos) {
  for (int64_t p : pos) HELIX_CHECK(p >= 0 && p < b.size(), "reward score position ", p, " is outside the batch");
  std::vector<float> r;
  base_->forward_hidden(
      b,
      [&](const float* x, float*) {
        std::vector<float> xn;
        head_forward(x, pos, xn, r);
      },
      false);
  return r;
}

// ---- files --------------------------------------------------------------------------------------

namespace {

constexpr const char* kLoraA = ".lora_a";
constexpr const char* kLoraB = ".lora_b";

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::vector<float> f32_values(const gguf::GGUFFile& f, const gguf::TensorInfo& t, int64_t n) {
  HELIX_CHECK(t.type == DType::F32 && t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3] == n, "reward model '", f.path(),
              "': tensor '", t.name, "' is not ", n, " f32 values");
  const float* p = reinterpret_cast<const float*>(f.tensor_data(t));
  return std::vector<float>(p, p + n);
}

// The LoRA factors a reward model file holds (written by save_reward_model, f32).
model::LoraAdapter read_factors(const gguf::GGUFFile& f) {
  model::LoraAdapter a;
  a.arch = f.architecture();
  a.alpha = static_cast<float>(f.get_float("adapter.lora.alpha", 0.0));
  a.name = f.get_string("general.name", "");
  for (const gguf::TensorInfo& ta : f.tensors()) {
    if (!ends_with(ta.name, kLoraA)) continue;
    const std::string base = ta.name.substr(0, ta.name.size() - 7);
    const gguf::TensorInfo* tb = f.find_tensor(base + kLoraB);
    HELIX_CHECK(tb && tb->ne[0] == ta.ne[1], "reward model '", f.path(), "': '", ta.name,
                "' lacks a matching '", base, kLoraB, "'");
    model::LoraPair& p = a.weights[base];
    p.n_in = ta.ne[0];
    p.rank = ta.ne[1];
    p.n_out = tb->ne[1];
    p.a = f32_values(f, ta, p.n_in * p.rank);
    p.b = f32_values(f, *tb, p.rank * p.n_out);
  }
  return a;
}

RmFileInfo info_of(const gguf::GGUFFile& f) {
  HELIX_CHECK(f.get_string("general.type", "") == "reward_model", "'", f.path(),
              "' is not a reward model (general.type is '", f.get_string("general.type", "missing"),
              "'); make one with helix rm train RECIPE.toml");
  RmFileInfo i;
  i.name = f.get_string("general.name", "");
  i.base_model = f.get_string("helix.rm.base_model", "");
  i.chat_template = f.get_string("helix.chat_template", "");
  i.step_separator = f.get_string("helix.rm.step_separator", "\n");
  i.has_adapter = f.get_bool("helix.rm.has_adapter", false);
  return i;
}

}  // namespace

void save_reward_model(const RewardModel& m, const RmFileInfo& info, const std::string& path) {
  const TrainModel& base = m.base();
  gguf::GGUFWriter w;
  w.set("general.architecture", gguf::Value::string(base.hparams().arch));
  w.set("general.type", gguf::Value::string("reward_model"));
  if (!info.name.empty()) w.set("general.name", gguf::Value::string(info.name));
  std::vector<std::string> aspects, levels;
  for (const RmHead& h : m.heads()) aspects.push_back(h.aspect), levels.push_back(rm_level_name(h.level));
  w.set("helix.rm.aspects", gguf::Value::string_array(aspects));
  w.set("helix.rm.levels", gguf::Value::string_array(levels));
  w.set("helix.rm.n_embd", gguf::Value::u32(static_cast<uint32_t>(base.hparams().n_embd)));
  w.set("helix.rm.base_model", gguf::Value::string(info.base_model));
  w.set("helix.rm.step_separator", gguf::Value::string(info.step_separator));
  w.set("helix.rm.has_adapter", gguf::Value::boolean(info.has_adapter));
  if (!info.chat_template.empty()) w.set("helix.chat_template", gguf::Value::string(info.chat_template));
  for (const RmHead& h : m.heads()) {
    w.add_tensor(h.w.name, DType::F32, Shape{h.w.numel(), 1, 1, 1}, 1, h.w.value.data());
    w.add_tensor(h.b.name, DType::F32, Shape{1, 1, 1, 1}, 1, h.b.value.data());
  }
  model::LoraAdapter a;  // kept alive until write()
  if (info.has_adapter) {
    a = base.export_lora(info.name);
    HELIX_CHECK(!a.weights.empty(), "cannot save reward model '", path, "': it has no LoRA factors to save");
    w.set("adapter.lora.alpha", gguf::Value::f32(a.alpha));
    for (const auto& [name, p] : a.weights) {
      w.add_tensor(name + kLoraA, DType::F32, Shape{p.n_in, p.rank, 1, 1}, 2, p.a.data());
      w.add_tensor(name + kLoraB, DType::F32, Shape{p.rank, p.n_out, 1, 1}, 2, p.b.data());
    }
  }
  w.write(path);
}

RmFileInfo read_reward_model_info(const std::string& path) { return info_of(gguf::GGUFFile::open(path)); }

std::unique_ptr<RewardModel> load_reward_model(const std::string& path, const std::string& base_model_path,
                                               bool exact_base, RmFileInfo* info_out) {
  const gguf::GGUFFile f = gguf::GGUFFile::open(path);
  RmFileInfo info = info_of(f);
  const std::vector<std::string> aspects = f.get("helix.rm.aspects").as_string_array();
  const std::vector<std::string> levels = f.get("helix.rm.levels").as_string_array();
  HELIX_CHECK(!aspects.empty() && aspects.size() == levels.size(), "reward model '", path,
              "': helix.rm.aspects and helix.rm.levels must name the same number (> 0) of heads");
  TrainOptions opt;
  opt.exact_base = exact_base;
  opt.lora_targets.clear();
  model::LoraAdapter a;
  if (info.has_adapter) {
    a = read_factors(f);
    HELIX_CHECK(!a.weights.empty(), "reward model '", path, "' says it has an adapter but holds no LoRA factors");
    opt.lora_alpha = a.alpha;
    opt.lora_rank = a.weights.begin()->second.rank;
    for (const auto& [name, p] : a.weights) {
      // "blk.N.attn_q.weight" -> "attn_q"
      const size_t d1 = name.find('.', 4), d2 = name.rfind('.');
      const std::string shortname = name.substr(d1 + 1, d2 - d1 - 1);
      if (std::find(opt.lora_targets.begin(), opt.lora_targets.end(), shortname) == opt.lora_targets.end())
        opt.lora_targets.push_back(shortname);
    }
  }
  const std::string base = !base_model_path.empty() ? base_model_path : info.base_model;
  HELIX_CHECK(!base.empty() && std::filesystem::exists(base), "reward model '", path, "' was trained on the base model '",
              info.base_model, "', which is not there; give the base model with -m MODEL");
  auto tm = std::make_unique<TrainModel>(base, opt);
  const auto n_embd = f.get_uint("helix.rm.n_embd", 0);
  HELIX_CHECK(tm->hparams().arch == f.architecture() && static_cast<uint64_t>(tm->hparams().n_embd) == n_embd,
              "reward model '", path, "' is for a ", f.architecture(), " model of width ", n_embd, ", but '", base,
              "' is a ", tm->hparams().arch, " model of width ", tm->hparams().n_embd);
  if (info.has_adapter) tm->import_lora(a);
  std::vector<std::pair<std::string, RmLevel>> specs;
  for (size_t i = 0; i < aspects.size(); ++i) specs.emplace_back(aspects[i], rm_level_from_name(levels[i]));
  auto m = std::make_unique<RewardModel>(std::move(tm), specs, 0);
  for (RmHead& h : m->heads()) {
    const gguf::TensorInfo* tw = f.find_tensor(h.w.name);
    const gguf::TensorInfo* tb = f.find_tensor(h.b.name);
    HELIX_CHECK(tw && tb, "reward model '", path, "' lacks the tensors of head '", h.aspect, "'");
    h.w.value = f32_values(f, *tw, h.w.numel());
    h.b.value = f32_values(f, *tb, 1);
  }
  if (info_out) *info_out = info;
  return m;
}

}  // namespace helix::train

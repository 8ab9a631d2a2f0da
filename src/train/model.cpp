#include "train/model.h"

#include <array>
#include <cmath>
#include <random>

#include "core/error.h"
#include "quant/quant.h"
#include "train/attention.h"
#include "train/model_internal.h"
#include "train/step_profile.h"

namespace helix::train {

namespace {
// Full fine-tuning trains an f32 copy of each weight: the file's pages of the original are not
// read again, so they need not stay in memory (the model's size less in peak RSS).
void drop_mapped_pages(const Tensor& w) {
  if (const kernels::ReleaseFn release = release_mapped(w)) release(w.data(), w.nbytes());
}
}  // namespace

// ---- loading ------------------------------------------------------------------------------------

TrainModel::TrainModel(const std::string& path, const TrainOptions& opt)
    : TrainModel(std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(path)), opt) {}

// The serving models' hyper-parameters (model::decoder_hparams: one set of per-architecture
// rules), for the architectures training supports, without building the serving model.
model::HParams training_hparams(const gguf::GGUFFile& f) {
  model::HParams hp = model::decoder_hparams(f);
  const std::string& a = hp.arch;
  HELIX_CHECK(a == "llama" || a == "qwen2" || a == "gemma3" || a == "ernie4_5", "training supports llama, qwen2, ",
              "gemma3 and ernie4_5 models; '", f.path(), "' is a ", a, " model");
  if (hp.n_vocab == 0)
    if (const gguf::TensorInfo* emb = f.find_tensor("token_embd.weight")) hp.n_vocab = emb->ne[1];
  return hp;
}

TrainModel::TrainModel(std::shared_ptr<const gguf::GGUFFile> file, const TrainOptions& opt)
    : file_(std::move(file)), opt_(opt), acts_(std::make_unique<Acts>()) {
  hp_ = training_hparams(*file_);
  // As model/gemma3.cpp: GELU(tanh) gate and embeddings scaled by sqrt(n_embd).
  if (hp_.arch == "gemma3") {
    act_ = Act::GeluTanh;
    emb_scale_ = std::sqrt(static_cast<float>(hp_.n_embd));
  }
  load(opt);
}

TrainModel::~TrainModel() { stepprof::report(); }

Param* TrainModel::add_param(const std::string& name, std::vector<int64_t> ne, bool trainable) {
  Param& p = params_.emplace_back();
  p.name = name;
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  p.ne = std::move(ne);
  p.value.assign(static_cast<size_t>(n), 0.0f);
  if (trainable) p.grad.assign(static_cast<size_t>(n), 0.0f);
  return &p;
}

// A 1-D float tensor (norm weight, bias) copied into a Param; nullptr when absent and not required.
Param* TrainModel::vector_param(const std::string& name, int64_t n, bool required, bool trainable) {
  const gguf::TensorInfo* info = file_->find_tensor(name);
  HELIX_CHECK(info || !required, "model file '", file_->path(), "' lacks the tensor '", name, "'");
  if (!info) return nullptr;
  const Tensor t = file_->tensor(*info);
  HELIX_CHECK(t.numel() == n, "tensor '", name, "' has ", t.numel(), " values, expected ", n);
  Param* p = add_param(name, {n}, trainable);
  quant::dequantize_row(t.dtype(), t.data(), p->value.data(), n);
  return p;
}

Linear TrainModel::make_linear(const std::string& name, int64_t n_in, int64_t n_out, const std::string& short_name) {
  Linear L;
  L.name = name;
  L.exact_base = opt_.exact_base;
  const gguf::TensorInfo* info = file_->find_tensor(name);
  HELIX_CHECK(info, "model file '", file_->path(), "' lacks the tensor '", name, "'");
  HELIX_CHECK(info->ne[0] == n_in && info->ne[1] == n_out, "tensor '", name, "' has shape [", info->ne[0], ", ",
              info->ne[1], "], expected [", n_in, ", ", n_out, "]");
  L.w = file_->tensor(*info);
  if (opt_.mode == TrainMode::Full) {
    HELIX_CHECK(!dtype_is_quantized(L.w.dtype()), "full fine-tuning needs float weights, but '", name, "' is ",
                dtype_name(L.w.dtype()), "; train a LoRA adapter instead (--lora-rank)");
    L.w_param = add_param(name, {n_in, n_out}, true);
    for (int64_t r = 0; r < n_out; ++r)
      quant::dequantize_row(L.w.dtype(), L.w.row(r), L.w_param->value.data() + r * n_in, n_in);
    drop_mapped_pages(L.w);
    L.w = Tensor::wrap(nullptr, L.w_param->value.data(), DType::F32, Shape{n_in, n_out, 1, 1}, 2);
  }
  const std::string base = name.substr(0, name.size() - 7);  // without ".weight"
  if (const gguf::TensorInfo* b = file_->find_tensor(base + ".bias")) {
    L.b_param = vector_param(b->name, n_out, true, opt_.mode == TrainMode::Full);
    L.bias = L.b_param->value.data();
    if (opt_.mode != TrainMode::Full) L.b_param = nullptr;
  }
  bool adapt = false;
  for (const auto& t : opt_.lora_targets) adapt |= t == short_name;
  if (opt_.mode == TrainMode::Lora && adapt) {
    const int64_t r = opt_.lora_rank;
    L.rank = r;
    L.lora_scale = opt_.lora_alpha > 0 ? opt_.lora_alpha / static_cast<float>(r) : 1.0f;
    L.dropout = opt_.lora_dropout;
    L.lora_a = add_param(name + ".lora_a", {n_in, r}, true);
    L.lora_b = add_param(name + ".lora_b", {r, n_out}, true);
    std::mt19937_64 rng(opt_.seed ^ std::hash<std::string>()(name));
    std::uniform_real_distribution<float> ua(-1.0f / std::sqrt(static_cast<float>(n_in)), 1.0f / std::sqrt(static_cast<float>(n_in)));
    for (float& v : L.lora_a->value) v = ua(rng);
    std::normal_distribution<float> nb(0.0f, opt_.lora_b_init_std > 0 ? opt_.lora_b_init_std : 1.0f);
    if (opt_.lora_b_init_std > 0)
      for (float& v : L.lora_b->value) v = nb(rng);
  }
  if (short_name != "output") L.prepare();  // the head's copies are made when a loss first needs them
  return L;
}

// The LM head's packed copy and Q8_0 transpose (Linear::prepare; 285 MiB for Gemma 3's 262,144 x
// 640 head), made on the first LM loss: reward models (forward_hidden) never use them.
void TrainModel::prepare_head() {
  if (head_prepared_) return;
  head_.prepare();
  head_prepared_ = true;
}

void TrainModel::set_dropout_step(uint64_t step) {
  dropout_step_ = step;
  dropout_call_ = 0;
}

void TrainModel::arm_dropout(bool training) {
  if (opt_.lora_dropout <= 0) return;
  const uint64_t call = training ? dropout_call_++ : 0;
  uint64_t k = 0;
  for (Block& B : blocks_)
    for (Linear* L : B.linears()) {
      ++k;
      L->dropout_seed = training ? (opt_.seed * 0x9E3779B97F4A7C15ull) ^ (dropout_step_ << 32) ^ (call << 20) ^ (k * 0xD1B54A32D192ED03ull)
                                 : 0;
      if (training && L->dropout_seed == 0) L->dropout_seed = 1;
    }
}

void TrainModel::load(const TrainOptions& opt) {
  HELIX_CHECK(opt.lora_dropout >= 0 && opt.lora_dropout < 1, "LoRA dropout ", opt.lora_dropout,
              " is out of range; use 0 (none) to below 1 (0.05-0.1 is typical)");
  HELIX_CHECK(opt.mode != TrainMode::Lora || (opt.lora_rank > 0 && opt.lora_rank <= 4096), "LoRA rank ",
              opt.lora_rank, " is out of range; use 1 to 4096 (8-64 is typical)");
  const bool full = opt.mode == TrainMode::Full;
  const int64_t E = hp_.n_embd, Q = hp_.n_embd_q(), KV = hp_.n_embd_kv(), F = hp_.n_ff, V = hp_.n_vocab;
  tok_embd_ = file_->tensor("token_embd.weight");
  if (full) {
    HELIX_CHECK(!dtype_is_quantized(tok_embd_.dtype()), "full fine-tuning needs float weights, but token_embd is ",
                dtype_name(tok_embd_.dtype()), "; train a LoRA adapter instead");
    tok_embd_p_ = add_param("token_embd.weight", {E, V}, true);
    for (int64_t r = 0; r < V; ++r)
      quant::dequantize_row(tok_embd_.dtype(), tok_embd_.row(r), tok_embd_p_->value.data() + r * E, E);
    drop_mapped_pages(tok_embd_);
    tok_embd_ = Tensor::wrap(nullptr, tok_embd_p_->value.data(), DType::F32, Shape{E, V, 1, 1}, 2);
  }
  output_norm_ = vector_param("output_norm.weight", E, true, full);
  if (file_->find_tensor("output.weight")) {
    head_ = make_linear("output.weight", E, V, "output");
  } else {  // tied
    head_.w = tok_embd_;
    head_.w_param = tok_embd_p_;
    head_.exact_base = opt.exact_base;
  }
  output_ = head_.w;
  output_p_ = head_.w_param;
  blocks_.resize(static_cast<size_t>(hp_.n_layer));
  for (int64_t il = 0; il < hp_.n_layer; ++il) {
    Block& B = blocks_[static_cast<size_t>(il)];
    const std::string p = "blk." + std::to_string(il) + ".";
    B.attn_norm = vector_param(p + "attn_norm.weight", E, true, full);
    B.q_norm = vector_param(p + "attn_q_norm.weight", hp_.head_dim, false, full);
    B.k_norm = vector_param(p + "attn_k_norm.weight", hp_.head_dim, false, full);
    B.post_attn_norm = vector_param(p + "post_attention_norm.weight", E, false, full);
    B.ffn_norm = vector_param(p + "ffn_norm.weight", E, true, full);
    B.post_ffn_norm = vector_param(p + "post_ffw_norm.weight", E, false, full);
    B.q = make_linear(p + "attn_q.weight", E, Q, "attn_q");
    B.k = make_linear(p + "attn_k.weight", E, KV, "attn_k");
    B.v = make_linear(p + "attn_v.weight", E, KV, "attn_v");
    B.o = make_linear(p + "attn_output.weight", Q, E, "attn_output");
    B.gate = make_linear(p + "ffn_gate.weight", E, F, "ffn_gate");
    B.up = make_linear(p + "ffn_up.weight", E, F, "ffn_up");
    B.down = make_linear(p + "ffn_down.weight", F, E, "ffn_down");
    HELIX_CHECK(static_cast<bool>(B.q_norm) == static_cast<bool>(B.k_norm) &&
                    static_cast<bool>(B.post_attn_norm) == static_cast<bool>(B.post_ffn_norm),
                "layer ", il, " of '", file_->path(), "' has only one of a pair of norms");
    if (il == 0) {
      qk_norm_ = B.q_norm != nullptr;
      post_norms_ = B.post_attn_norm != nullptr;
    }
    HELIX_CHECK(qk_norm_ == (B.q_norm != nullptr) && post_norms_ == (B.post_attn_norm != nullptr), "layer ", il,
                " of '", file_->path(), "' has different norms from layer 0");
  }
}

std::vector<Param*> TrainModel::trainable() {
  std::vector<Param*> out;
  for (Param& p : params_)
    if (!p.grad.empty()) out.push_back(&p);
  return out;
}

void TrainModel::zero_grad() {
  for (Param& p : params_) std::fill(p.grad.begin(), p.grad.end(), 0.0f);
}

model::LoraAdapter TrainModel::export_lora(const std::string& name) const {
  model::LoraAdapter a;
  a.name = name;
  a.arch = hp_.arch;
  a.alpha = opt_.lora_alpha;
  for (const Block& B : blocks_)
    for (const Linear* L : B.linears()) {
      if (!L->lora_a) continue;
      model::LoraPair& p = a.weights[L->name];
      p.n_in = L->n_in();
      p.n_out = L->n_out();
      p.rank = L->rank;
      p.a = L->lora_a->value;
      p.b = L->lora_b->value;
    }
  return a;
}

void TrainModel::import_lora(const model::LoraAdapter& a) {
  for (Block& B : blocks_)
    for (Linear* L : B.linears()) {
      if (!L->lora_a) continue;
      auto it = a.weights.find(L->name);
      HELIX_CHECK(it != a.weights.end(), "adapter '", a.name, "' has no factors for '", L->name, "'");
      HELIX_CHECK(it->second.rank == L->rank && it->second.n_in == L->n_in() && it->second.n_out == L->n_out(),
                  "adapter '", a.name, "' factors for '", L->name, "' have rank ", it->second.rank,
                  "; training uses rank ", L->rank);
      L->lora_a->value = it->second.a;
      L->lora_b->value = it->second.b;
    }
}

}  // namespace helix::train

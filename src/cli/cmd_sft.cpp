// helix sft: one stage of LoRA supervised fine-tuning without a recipe file.
//   helix sft --data FILE.jsonl --out ADAPTER.gguf [-m MODEL] [--steps N] [--lr X] [--lora-rank R]
//             [--seq-len L] [--batch B] ...
// Samples are rendered with the model's chat template (loss on assistant turns), trained with
// AdamW + warmup/cosine, and the adapter is written in llama.cpp's LoRA GGUF layout. A checkpoint
// (OUT.ckpt unless --checkpoint) is written atomically every --checkpoint-every steps; running
// the same command again after a crash or kill -9 resumes from it. It is removed on success.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/gen_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "model/lora.h"
#include "tokenizer/tokenizer.h"
#include "train/data.h"
#include "train/trainer.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix sft --data FILE.jsonl --out ADAPTER.gguf [-m MODEL] [options]\n"
    "  --steps N (100)          optimizer steps\n"
    "  --lr X (2e-4)            peak learning rate\n"
    "  --lora-rank R (16)       --lora-alpha A (2*rank)\n"
    "  --lora-targets LIST      projections to adapt (attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down)\n"
    "  --seq-len L (256)        samples longer than this are bad data\n"
    "  --batch B (4)            samples per micro-batch;  --grad-accum N (1) micro-batches per step\n"
    "  --schedule cosine|linear|constant (cosine);  --warmup N (5% of steps)\n"
    "  --clip X (1.0)           global gradient-norm clipping (0: none);  --weight-decay X (0)\n"
    "  --exact                  quantized bases: f32 forward instead of 8-bit activations\n"
    "  --checkpoint FILE (OUT.ckpt);  --checkpoint-every N (50)\n"
    "  --chat-template FILE;  --on-bad-data skip|stop (stop);  --seed N (42);  -t N threads\n";

std::string duration(double s) {
  const auto t = static_cast<long long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, t / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  return buf;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string p; std::getline(ss, p, ',');)
    if (!p.empty()) out.push_back(p);
  return out;
}

}  // namespace

int cmd_sft(int argc, char** argv) {
  std::string data, out, model_path, template_path, checkpoint, on_bad = "stop";
  train::TrainOptions topt;
  train::SftOptions sopt;
  float alpha = -1;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      HELIX_CHECK(i + 1 < argc, "option ", a, " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--data") data = next();
    else if (a == "--out" || a == "-o") out = next();
    else if (a == "-m" || a == "--model") model_path = next();
    else if (a == "--steps") sopt.steps = int_flag(a, next(), 1, 100000000);
    else if (a == "--lr") sopt.adam.lr = static_cast<float>(float_flag(a, next(), 0, 1, true));
    else if (a == "--lora-rank") topt.lora_rank = int_flag(a, next(), 1, 4096);
    else if (a == "--lora-alpha") alpha = static_cast<float>(float_flag(a, next(), 0, 1e6, true));
    else if (a == "--lora-targets") topt.lora_targets = split(next());
    else if (a == "--seq-len") sopt.seq_len = int_flag(a, next(), 2, 1 << 20);
    else if (a == "--batch") sopt.batch = int_flag(a, next(), 1, 4096);
    else if (a == "--grad-accum") sopt.grad_accum = int_flag(a, next(), 1, 4096);
    else if (a == "--schedule") sopt.schedule = train::schedule_from_name(next());
    else if (a == "--warmup") sopt.warmup = int_flag(a, next(), 0);
    else if (a == "--clip") sopt.clip = float_flag(a, next(), 0);
    else if (a == "--weight-decay") sopt.adam.weight_decay = static_cast<float>(float_flag(a, next(), 0, 1));
    else if (a == "--exact") topt.exact_base = true;
    else if (a == "--checkpoint") checkpoint = next();
    else if (a == "--checkpoint-every") sopt.checkpoint_every = int_flag(a, next(), 1);
    else if (a == "--chat-template") template_path = next();
    else if (a == "--on-bad-data") on_bad = next();
    else if (a == "--seed") sopt.seed = static_cast<uint64_t>(int_flag(a, next(), 0));
    else if (a == "-t" || a == "--threads") threads = static_cast<int>(int_flag(a, next(), 1, 1024));
    else throw Error(cat("unknown option '", a, "' for helix sft; see helix sft --help"));
  }
  HELIX_CHECK(!data.empty() && !out.empty(), "helix sft needs --data FILE.jsonl and --out ADAPTER.gguf\n", kUsage);
  for (const auto& t : topt.lora_targets) {
    static const std::vector<std::string> known = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    HELIX_CHECK(std::find(known.begin(), known.end(), t) != known.end(), "unknown LoRA target '", t,
                "'; choose from attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down");
  }
  topt.lora_alpha = alpha > 0 ? alpha : 2.0f * static_cast<float>(topt.lora_rank);
  topt.seed = sopt.seed;
  if (threads == 0) threads = threads_from_env();
  if (threads > 0) ThreadPool::set_global_threads(threads);
  sopt.checkpoint = checkpoint.empty() ? out + ".ckpt" : checkpoint;

  model_path = resolve_model_path(model_path);
  auto file = std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(model_path));
  const auto tok = tok::Tokenizer::from_gguf(*file);
  const train::SampleRenderer renderer(*tok, train::chat_template_for_training(*file, template_path));
  train::LoadOptions lo;
  lo.seq_len = sopt.seq_len;
  lo.on_bad_data = train::parse_on_bad_data(on_bad);
  train::LoadResult d = train::load_jsonl(data, "sft", renderer, lo);
  for (const auto& b : d.bad) std::fprintf(stderr, "skipped %s\n", b.message().c_str());
  HELIX_CHECK(!d.samples.empty(), "'", data, "' holds no usable training samples");
  std::fprintf(stderr, "data: %zu samples, %lld tokens, %lld with loss\n", d.samples.size(),
               static_cast<long long>(d.n_tokens), static_cast<long long>(d.n_loss_tokens));

  train::TrainModel m(file, topt);
  int64_t n_params = 0;
  for (const train::Param* p : m.trainable()) n_params += p->numel();
  std::fprintf(stderr, "model: %s (%s, %lld layers); LoRA rank %lld alpha %g on %zu projections: %lld trainable parameters\n",
               model_path.c_str(), m.hparams().arch.c_str(), static_cast<long long>(m.hparams().n_layer),
               static_cast<long long>(topt.lora_rank), topt.lora_alpha, topt.lora_targets.size(), static_cast<long long>(n_params));
  if (std::filesystem::exists(sopt.checkpoint))
    std::fprintf(stderr, "resuming from checkpoint %s\n", sopt.checkpoint.c_str());
  train::SftTrainer trainer(m, std::move(d.samples), sopt);
  trainer.run([&](const train::StepReport& r) {
    std::fprintf(stderr, "step %lld/%lld  loss %.4f  lr %.2e  grad-norm %.3f  %.1f tokens/s  ETA %s\n",
                 static_cast<long long>(r.step), static_cast<long long>(r.steps), r.loss, static_cast<double>(r.lr),
                 r.grad_norm, r.tokens_per_s, duration(r.eta_s).c_str());
  });
  std::string name = std::filesystem::path(out).stem().string();
  model::save_lora(m.export_lora(name), out);
  std::filesystem::remove(sopt.checkpoint);
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

}  // namespace helix::cli

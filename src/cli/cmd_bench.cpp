// helix bench: in-process speed measurements for the side-by-side benchmark
// (bench/compare_llama_cpp.py): load time, prefill tokens/s for each prompt length, decode
// tokens/s at each context depth, and peak resident memory. Prints one JSON object on stdout.
// --streams N decodes N sequences together (one batched forward per step, as the server's
// continuous batching does) and reports their aggregate tokens/s.
// Prompts are synthetic token ids (no tokenizer work is timed).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/gen_options.h"
#include "cli/lora_flags.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/profile.h"
#include "model/model.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix bench [-m MODEL] [-t N] [-b N] [--prefill 64,512] [--depths 0,1024] [--decode-tokens 32]\n"
    "                   [--streams 1]\n"
    "Measures load time, prefill tokens/s per prompt length and decode tokens/s per context depth on\n"
    "synthetic tokens; prints one JSON object (see bench/compare_llama_cpp.py).\n"
    "  -m FILE            GGUF model (default: the installed default model)\n"
    "  -t N               threads (default: $HELIX_THREADS, else all cores)\n"
    "  -b N               prompt batch size (default 512)\n"
    "  --prefill LIST     prompt lengths to time (default 64,512)\n"
    "  --depths LIST      context depths to time decoding at (default 0,1024)\n"
    "  --decode-tokens N  tokens decoded per depth (default 32)\n"
    "  --streams N        sequences decoded together, 1 to 256 (default 1)\n"
    "  --lora FILE[:S]    apply a LoRA adapter (decode speed with adapters)\n"
    "  --lora NAME=FILE[:S]  compare decoding without and with each named adapter: alternating runs\n"
    "                     at the first depth, --rounds N rounds (default 5); medians of tokens/s and\n"
    "                     CPU ms per token, and the cost against the base, under \"lora_compare\"\n"
    "HELIX_PROFILE=1 adds a per-op profile table on stderr.\n";

std::vector<int64_t> parse_list(const std::string& flag, const std::string& s, int64_t lo) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) v.push_back(int_flag(flag, t, lo, int64_t{1} << 24));
  HELIX_CHECK(!v.empty(), "option ", flag, " needs a comma-separated list of numbers");
  return v;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// User CPU seconds of this process, all threads together.
double user_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec);
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  std::string path;
  std::vector<int64_t> prefill = {64, 512}, depths = {0, 1024};
  int64_t n_decode = 32, threads = 0, n_batch = 512, n_streams = 1, rounds = 5;
  std::vector<std::string> lora;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      HELIX_CHECK(i + 1 < argc, "option ", a, " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "-m") path = val();
    else if (a == "-t") threads = int_flag(a, val(), 1, 1024);
    else if (a == "-b") n_batch = int_flag(a, val(), 1, int64_t{1} << 24);
    else if (a == "--prefill") prefill = parse_list(a, val(), 1);
    else if (a == "--depths") depths = parse_list(a, val(), 0);
    else if (a == "--decode-tokens") n_decode = int_flag(a, val(), 1, int64_t{1} << 24);
    else if (a == "--streams") n_streams = int_flag(a, val(), 1, 256);
    else if (a == "--lora") lora.push_back(val());  // decode speed with adapters (cli/lora_flags.h)
    else if (a == "--rounds") rounds = int_flag(a, val(), 1, 1000);
    else throw Error(cat("unknown option '", a, "' (see helix bench --help)"));
  }
  if (threads > 0) ThreadPool::set_global_threads(static_cast<int>(threads));
  const double t0 = now_s();
  auto m = model::load_model(resolve_model_path(path));
  apply_default_loras(lora, *m, true);
  // "base" first, then the named adapters (--lora NAME=FILE) in the order given.
  std::vector<std::pair<std::string, int>> named;
  const std::map<std::string, NamedLora> ids = add_named_loras(lora, *m);
  if (!ids.empty()) named.emplace_back("base", 0);
  for (const std::string& spec : lora) {
    const LoraFlag f = parse_lora_flag(spec);
    if (!f.name.empty() && std::none_of(named.begin(), named.end(), [&](const auto& p) { return p.first == f.name; }))
      named.emplace_back(f.name, ids.at(f.name).set);
  }
  HELIX_CHECK(ids.count("base") == 0, "--lora base=FILE: 'base' names the run without an adapter; pick another name");
  const double load_s = now_s() - t0;
  const int64_t V = m->hparams().n_vocab;
  int64_t max_ctx = 16;
  for (auto p : prefill) max_ctx = std::max(max_ctx, p + 1);
  for (auto d : depths) max_ctx = std::max(max_ctx, d + n_decode + 1);
  model::KVCache kv(m->hparams(), max_ctx, static_cast<int>(n_streams), n_batch);
  std::vector<float> logits;
  // Synthetic ids spread over the vocabulary away from its ends (special and byte tokens): ids
  // 1000..V-1001 when there are more than 2000, else the middle half (tiny test models).
  const int64_t lo = V > 2000 ? 1000 : V / 4, span = std::max<int64_t>(1, V - 2 * lo);
  auto tok = [&](int64_t i) { return static_cast<int32_t>(lo + (i * 7919) % span); };
  // Prefills n tokens from position 0 into sequence seq, in batches of n_batch.
  auto fill = [&](int64_t n, int seq = 0) {
    kv.truncate(seq, 0);
    for (int64_t s = 0; s < n; s += n_batch) {
      model::Batch b;
      for (int64_t i = s; i < std::min(n, s + n_batch); ++i)
        b.add(tok(i + seq), i, seq, i + 1 == std::min(n, s + n_batch));
      m->forward(b, kv, logits);
    }
  };
  fill(8);  // warm-up
  // HELIX_PROFILE=1: a profile table on stderr after the prefill runs and after each decode depth.
  const bool profiling = prof::enabled();
  if (profiling) prof::reset();
  nlohmann::ordered_json out;
  out["engine"] = "helix";
  out["threads"] = ThreadPool::global().size();
  out["load_s"] = load_s;
  out["streams"] = n_streams;
  for (auto n : prefill) {
    const double s = now_s();
    fill(n);
    out["prefill_tps"][std::to_string(n)] = static_cast<double>(n) / (now_s() - s);
    if (profiling) std::fprintf(stderr, "\n#### prefill %lld tokens\n", static_cast<long long>(n)), prof::report(true);
  }
  // Decodes n_decode tokens per stream at depth d: tokens/s and user CPU milliseconds per token
  // (the whole process, all pool threads: on a loaded machine wall time measures the other
  // processes, CPU time much less so).
  auto decode = [&](int64_t d) {
    for (int seq = 0; seq < n_streams; ++seq) fill(std::max<int64_t>(d, 1), seq);
    int64_t pos = std::max<int64_t>(d, 1);
    if (profiling) prof::reset();  // the fill is not part of the decode profile
    const double s = now_s(), c = user_cpu_s();
    for (int64_t i = 0; i < n_decode; ++i, ++pos) {
      model::Batch b;
      for (int seq = 0; seq < n_streams; ++seq) b.add(tok(pos + seq), pos, seq, true);
      m->forward(b, kv, logits);
    }
    const double n_tok = static_cast<double>(n_decode * n_streams);
    return std::pair<double, double>{n_tok / (now_s() - s), 1e3 * (user_cpu_s() - c) / n_tok};
  };
  for (auto d : depths) {
    const auto [tps, cpu_ms] = decode(d);
    out["decode_tps"][std::to_string(d)] = tps;
    out["decode_cpu_ms"][std::to_string(d)] = cpu_ms;
    if (profiling) std::fprintf(stderr, "\n#### decode at depth %lld\n", static_cast<long long>(d)), prof::report(true);
  }
  // Named adapters (--lora NAME=FILE): decode at the first depth without an adapter and with each,
  // alternating for --rounds rounds; medians and the cost against the base.
  if (!named.empty()) {
    std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> runs;
    for (int64_t r = 0; r < rounds; ++r)
      for (const auto& [name, set] : named) {
        m->set_default_lora(set);
        const auto [tps, cpu_ms] = decode(depths.front());
        runs[name].first.push_back(tps);
        runs[name].second.push_back(cpu_ms);
      }
    m->set_default_lora(0);
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    };
    const double base_tps = median(runs["base"].first), base_cpu = median(runs["base"].second);
    for (const auto& [name, set] : named) {
      auto& j = out["lora_compare"][name];
      j["decode_tps"] = median(runs[name].first);
      j["decode_cpu_ms"] = median(runs[name].second);
      j["slower_pct"] = 100.0 * (1.0 - median(runs[name].first) / base_tps);
      j["cpu_extra_pct"] = 100.0 * (median(runs[name].second) / base_cpu - 1.0);
      j["runs_tps"] = runs[name].first;
      j["runs_cpu_ms"] = runs[name].second;
    }
  }
  // Peak resident memory (VmHWM: this process image only; getrusage's ru_maxrss also carries
  // the parent's peak across fork), and current resident memory by kind (mapped file pages vs
  // anonymous memory), from /proc.
  if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      long kb = 0;
      if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) out["peak_rss_mib"] = static_cast<double>(kb) / 1024.0;
      if (std::sscanf(line, "RssAnon: %ld kB", &kb) == 1) out["rss_anon_mib"] = static_cast<double>(kb) / 1024.0;
      if (std::sscanf(line, "RssFile: %ld kB", &kb) == 1) out["rss_file_mib"] = static_cast<double>(kb) / 1024.0;
    }
    std::fclose(f);
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace helix::cli

// Matrix-vector (decode) and small-batch (prefill) throughput of kernels::matmul for every weight
// type at the default model's shapes (Gemma 3 270M: n_embd 640, n_ff 2048, 4 heads x 256, one KV
// head, vocab 262144), in GB/s of weight bytes read, next to the machine's read bandwidth measured
// in the same run (a streaming read of a buffer far larger than L3 on the same threads).
//
// Weights are "cold" as in real decoding: each benchmark cycles through enough copies of its
// matrix (>= 256 MiB in all) that every call reads from DRAM; "hot" ones reuse one matrix.
// Run with 2 threads (on a busy machine, chrt -f 1 keeps other jobs from stalling the threads):
//   HELIX_THREADS=2 build/bench/bench_matvec --benchmark_repetitions=3 --benchmark_min_time=0.2s
// The table printed at the end gives per benchmark the best GB/s of weight bytes over the
// repetitions, BW% = that / the best ReadBandwidth pass of the run, and stream% = that / a
// streaming read of the very same weight copies (small scattered matrices stream slower than one
// big buffer, so stream% can exceed 100% there).
#include <benchmark/benchmark.h>
#include <emmintrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"
#include "quant/blocks.h"

namespace helix {
namespace {

constexpr size_t kColdBytes = size_t{256} << 20;

// ---- read bandwidth -----------------------------------------------------------------------------

struct Span {
  const uint8_t* p;
  size_t bytes;
};

// Sum of 16-byte words of [p, p + bytes) (bytes a multiple of 64; p 16-byte aligned).
int64_t read_span(const uint8_t* p, size_t bytes) {
  const auto* b = reinterpret_cast<const __m128i*>(p);
  __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t j = 0; j < bytes / 16; j += 4) {
    a0 = _mm_add_epi64(a0, _mm_load_si128(b + j));
    a1 = _mm_add_epi64(a1, _mm_load_si128(b + j + 1));
    a2 = _mm_add_epi64(a2, _mm_load_si128(b + j + 2));
    a3 = _mm_add_epi64(a3, _mm_load_si128(b + j + 3));
  }
  return _mm_cvtsi128_si64(_mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3)));
}

// Pieces of at most 1 MiB covering the spans, so that every thread streams.
std::vector<Span> pieces(const std::vector<Span>& spans) {
  std::vector<Span> out;
  for (const Span& s : spans) {
    const size_t usable = s.bytes / 64 * 64;
    for (size_t off = 0; off < usable; off += size_t{1} << 20)
      out.push_back({s.p + off, std::min(usable - off, size_t{1} << 20)});
  }
  return out;
}

// One streaming read of all pieces on the pool's threads (static interleave); returns GB/s.
double read_pass_gbs(const std::vector<Span>& ps) {
  ThreadPool& pool = ThreadPool::global();
  std::vector<int64_t> sums(static_cast<size_t>(pool.size()) * 8, 0);
  size_t total = 0;
  for (const Span& s : ps) total += s.bytes;
  const auto t0 = std::chrono::steady_clock::now();
  pool.run([&](int i, int n) {
    int64_t acc = 0;
    for (size_t k = static_cast<size_t>(i); k < ps.size(); k += static_cast<size_t>(n))
      acc += read_span(ps[k].p, ps[k].bytes);
    sums[static_cast<size_t>(i) * 8] = acc;
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  benchmark::DoNotOptimize(sums.data());
  return static_cast<double>(total) / secs / 1e9;
}

struct ReadBuffer {
  size_t bytes = size_t{1} << 30;  // 1 GiB: far beyond any L3 here
  std::unique_ptr<uint8_t, decltype(&std::free)> data{nullptr, &std::free};
  ReadBuffer() {
    data.reset(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)));
    std::memset(data.get(), 1, bytes);
  }
};

double g_best_bandwidth = 0;  // best ReadBandwidth result of this run (GB/s)

void BM_ReadBandwidth(benchmark::State& state) {
  ReadBuffer buf;
  const std::vector<Span> ps = pieces({{buf.data.get(), buf.bytes}});
  double best = 0, sum = 0;
  for (auto _ : state) {
    const double g = read_pass_gbs(ps);
    best = std::max(best, g);
    sum += g;
  }
  g_best_bandwidth = std::max(g_best_bandwidth, best);
  state.counters["GB/s"] = sum / static_cast<double>(state.iterations());
  state.counters["best"] = best;
  state.counters["threads"] = ThreadPool::global().size();
}

// ---- weights ------------------------------------------------------------------------------------

void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// Random codes with sane scales (no NaN or subnormal scales to slow a path down).
Tensor make_weights(DType t, int64_t n_in, int64_t n_out, uint32_t seed) {
  Tensor w = Tensor::empty(t, {n_in, n_out});
  std::mt19937 rng(seed);
  uint8_t* p = w.data_as<uint8_t>();
  if (!dtype_is_quantized(t)) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int64_t i = 0; i < w.numel(); ++i) {
      if (t == DType::F32)
        w.data_as<float>()[i] = u(rng);
      else
        w.data_as<uint16_t>()[i] = t == DType::F16 ? f32_to_f16(u(rng)) : f32_to_bf16(u(rng));
    }
    return w;
  }
  for (size_t i = 0; i + 4 <= w.nbytes(); i += 4) {
    const uint32_t r = rng();
    std::memcpy(p + i, &r, 4);
  }
  using namespace quant;
  const size_t bs = dtype_type_size(t);
  for (size_t off = 0; off < w.nbytes(); off += bs) {
    uint8_t* b = p + off;
    switch (t) {
      case DType::Q4_0:
        put_f16(b + offsetof(BlockQ4_0, d), 0.01f);
        break;
      case DType::Q4_1:
        put_f16(b + offsetof(BlockQ4_1, d), 0.01f), put_f16(b + offsetof(BlockQ4_1, m), -0.08f);
        break;
      case DType::Q5_0:
        put_f16(b + offsetof(BlockQ5_0, d), 0.01f);
        break;
      case DType::Q5_1:
        put_f16(b + offsetof(BlockQ5_1, d), 0.01f), put_f16(b + offsetof(BlockQ5_1, m), -0.16f);
        break;
      case DType::Q8_0:
        put_f16(b + offsetof(BlockQ8_0, d), 0.01f);
        break;
      case DType::Q2_K:
        put_f16(b + offsetof(BlockQ2_K, d), 0.01f), put_f16(b + offsetof(BlockQ2_K, dmin), 0.01f);
        break;
      case DType::Q3_K:
        put_f16(b + offsetof(BlockQ3_K, d), 0.01f);
        break;
      case DType::Q4_K:
        put_f16(b + offsetof(BlockQ4_K, d), 0.001f), put_f16(b + offsetof(BlockQ4_K, dmin), 0.001f);
        break;
      case DType::Q5_K:
        put_f16(b + offsetof(BlockQ5_K, d), 0.001f), put_f16(b + offsetof(BlockQ5_K, dmin), 0.001f);
        break;
      case DType::Q6_K:
        put_f16(b + offsetof(BlockQ6_K, d), 0.001f);
        break;
      default:
        break;
    }
  }
  return w;
}

// ---- matmul benchmarks --------------------------------------------------------------------------

// The weights of the benchmark being run (kept between the framework's calls of one benchmark).
struct WeightSet {
  DType t{};
  int64_t n_in = 0, n_out = 0;
  bool cold = false;
  bool packed = false;
  std::vector<Tensor> copies;
  std::vector<std::shared_ptr<const kernels::PackedWeight>> packs;  // packed: matmul reads these
  double stream_gbs = 0;  // best streaming read of the same memory
};

WeightSet& weights_for(DType t, int64_t n_in, int64_t n_out, bool cold, bool packed) {
  static WeightSet ws;
  if (ws.t == t && ws.n_in == n_in && ws.n_out == n_out && ws.cold == cold && ws.packed == packed &&
      !ws.copies.empty())
    return ws;
  ws = WeightSet{t, n_in, n_out, cold, packed, {}, {}, 0};
  const Tensor first = make_weights(t, n_in, n_out, 1);
  const size_t bytes = first.nbytes();
  const size_t n = cold ? std::max<size_t>(1, (kColdBytes + bytes - 1) / bytes) : 1;
  ws.copies.push_back(first);
  for (size_t i = 1; i < n; ++i) {
    Tensor c = Tensor::empty(t, {n_in, n_out});
    std::memcpy(c.data(), first.data(), bytes);
    ws.copies.push_back(c);
  }
  std::vector<Span> spans;
  for (const Tensor& c : ws.copies) {
    if (packed) {
      ws.packs.push_back(kernels::pack_weight(c));
      if (ws.packs.back()) {  // the packed copy holds as many bytes as the original
        spans.push_back({ws.packs.back()->data(), bytes});
        continue;
      }
    }
    spans.push_back({c.data_as<uint8_t>(), bytes});
  }
  const std::vector<Span> ps = pieces(spans);
  for (int i = 0; i < 3; ++i) ws.stream_gbs = std::max(ws.stream_gbs, read_pass_gbs(ps));
  return ws;
}

// cold: cycle through copies of the matrix that together far exceed L3, as decoding does.
void BM_Matmul(benchmark::State& state, DType t, int64_t n_in, int64_t n_out, int64_t n_tok,
               bool cold, bool packed) {
  WeightSet& ws = weights_for(t, n_in, n_out, cold, packed);
  const size_t bytes = ws.copies[0].nbytes();
  Tensor x = Tensor::empty(DType::F32, {n_in, n_tok});
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = u(rng);
  Tensor y = Tensor::empty(DType::F32, {n_out, n_tok});
  size_t i = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    kernels::matmul(ws.copies[i], x, y);
    benchmark::ClobberMemory();
    if (++i == ws.copies.size()) i = 0;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double iters = static_cast<double>(state.iterations());
  const double gbs = static_cast<double>(bytes) * iters / secs / 1e9;
  state.counters["GB/s"] = gbs;
  state.counters["GFLOP/s"] = 2e-9 * static_cast<double>(n_in * n_out * n_tok) * iters / secs;
  state.counters["MB"] = static_cast<double>(bytes) / 1e6;
  if (cold) state.counters["BW%"] = 100.0 * gbs / ws.stream_gbs;  // vs streaming the same bytes
  state.SetLabel(std::string(dtype_name(t)) + (cold ? " cold" : " hot") +
                 (packed ? (ws.packs.empty() || !ws.packs[0] ? " (no packed form)" : " packed") : ""));
}

struct Shape {
  int64_t n_in, n_out;
};

void register_all() {
  benchmark::RegisterBenchmark("ReadBandwidth", BM_ReadBandwidth)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond)
      ->MinTime(1.0);
  const DType types[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                         DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                         DType::Q4_K, DType::Q5_K, DType::Q6_K};
  const Shape model[] = {{640, 1024}, {1024, 640}, {640, 2048}, {2048, 640}, {640, 256}};
  for (DType t : types) {
    const int64_t bs = dtype_block_size(t);
    auto add = [&](const char* what, Shape s, int64_t n_tok, bool cold, bool packed = false) {
      if (s.n_in % bs != 0) return;
      const std::string name = std::string(what) + "/" + std::string(dtype_name(t)) + "/" +
                               std::to_string(s.n_in) + "x" + std::to_string(s.n_out) + "/tok" +
                               std::to_string(n_tok) + (cold ? "/cold" : "/hot");
      benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, t, s.n_in, s.n_out, n_tok, cold, packed)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    };
    add("Matvec", {2048, 8192}, 1, true);  // the bandwidth ratio
    for (Shape s : model) add("Matvec", s, 1, true);
    if (t == DType::Q8_0) add("Matvec", {640, 262144}, 1, true);  // the output head
    for (Shape s : model) add("MatvecHot", s, 1, false);
    add("Prefill", {2048, 2048}, 64, false);
    if (t == DType::Q5_0 || t == DType::Q8_0) {  // weights packed at load (kernels/packed.h)
      for (Shape s : model) add("MatvecPacked", s, 1, true, true);
      if (t == DType::Q8_0) add("MatvecPacked", {640, 262144}, 1, true, true);
      // A decode step of eight streams: eight activation rows per pass over the weights.
      for (Shape s : model) add("MatvecPacked", s, 8, true, true);
      if (t == DType::Q8_0) add("MatvecPacked", {640, 262144}, 8, true, true);
      add("PrefillPacked", {2048, 2048}, 64, false, true);
    }
  }
}

}  // namespace
}  // namespace helix

// Prints the table after the standard output: per benchmark the best GB/s over repetitions, its
// share of the run's best ReadBandwidth, and of streaming the same weight memory (cold runs).
class TableReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      const std::string name = r.run_name.function_name;
      if (name.rfind("ReadBandwidth", 0) == 0) continue;
      auto gb = r.counters.find("GB/s");
      auto local = r.counters.find("BW%");
      if (gb == r.counters.end()) continue;
      if (!index_.count(name)) {
        index_[name] = rows_.size();
        rows_.push_back({name, 0, 0});
      }
      Row& row = rows_[index_[name]];
      if (gb->second.value > row.gbs) {
        row.gbs = gb->second.value;
        row.local_pct = local == r.counters.end() ? 0 : local->second.value;
      }
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    double bw = helix::g_best_bandwidth;
    if (bw == 0) {  // ReadBandwidth was filtered out: measure it here
      helix::ReadBuffer buf;
      const auto ps = helix::pieces({{buf.data.get(), buf.bytes}});
      for (int i = 0; i < 5; ++i) bw = std::max(bw, helix::read_pass_gbs(ps));
    }
    std::printf("\nread bandwidth (%d threads, best pass): %.1f GB/s\n",
                helix::ThreadPool::global().size(), bw);
    std::printf("%-36s %8s %7s %9s\n", "benchmark", "GB/s", "BW%", "stream%");
    for (const Row& r : rows_) {
      std::printf("%-36s %8.2f %6.1f%%", r.name.c_str(), r.gbs, 100.0 * r.gbs / bw);
      if (r.local_pct > 0) std::printf(" %8.1f%%", r.local_pct);
      std::printf("\n");
    }
  }

 private:
  struct Row {
    std::string name;
    double gbs, local_pct;
  };
  std::vector<Row> rows_;
  std::map<std::string, size_t> index_;
};

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  helix::register_all();
  TableReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

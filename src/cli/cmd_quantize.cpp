// helix quantize IN.gguf OUT.gguf TYPE: writes a copy of a GGUF model with its weight matrices
// converted to TYPE (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)
// or to a llama.cpp-style mix (Q4_K_M, Q5_K_M). All metadata is copied; general.file_type and
// general.quantization_version are updated.
//
// Which tensors change: matrices (2 or more dimensions) whose name ends in "weight", except norms
// and MoE routers. Everything else keeps its type if it is F32/F16/BF16, or becomes F32.
// A plain TYPE applies to every such matrix. The mixes follow llama.cpp: the output matrix (or
// the token embedding when the model ties them) gets Q6_K; attn_v and ffn_down get Q6_K in the
// layers where llama.cpp's use_more_bits() says so (the first and last eighth and every third
// layer between); fused attn_qkv gets one step more. A K-quant needs rows that are a multiple of
// 256; otherwise the tensor falls back to a 32-element type as llama.cpp does (Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0, since Helix has no IQ4_NL quantizer).
//
// Source tensors of any type Helix can dequantize are converted through f32; a tensor that already
// has the target type is copied unchanged. Requantizing an already quantized model works but loses
// more than quantizing from F16/BF16/F32, so it is allowed with a warning.
//
// Before any work the output is checked: its folder exists and a file can be created there, it is
// not a folder, not the input under another name, and the disk has room for it. The sizes
// reported at the end are the input and output file sizes.
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/convert_model.h"
#include "cli/gen_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "io/gguf.h"
#include "quant/quant.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix quantize IN.gguf OUT.gguf TYPE [-t THREADS]\n"
    "TYPE: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K, or the mixes Q4_K_M Q5_K_M\n"
    "(llama.cpp-style: output, and attn_v/ffn_down in some layers, get Q6_K).\n";

struct Target {
  const char* name;
  DType base;
  bool mix;
  uint32_t file_type;  // llama.cpp's llama_ftype, stored as general.file_type
};

constexpr Target kTargets[] = {
    {"F32", DType::F32, false, 0},    {"F16", DType::F16, false, 1},    {"BF16", DType::BF16, false, 32},
    {"Q4_0", DType::Q4_0, false, 2},  {"Q4_1", DType::Q4_1, false, 3},  {"Q8_0", DType::Q8_0, false, 7},
    {"Q5_0", DType::Q5_0, false, 8},  {"Q5_1", DType::Q5_1, false, 9},  {"Q2_K", DType::Q2_K, false, 10},
    {"Q3_K", DType::Q3_K, false, 11}, {"Q4_K", DType::Q4_K, false, 14}, {"Q5_K", DType::Q5_K, false, 16},
    {"Q6_K", DType::Q6_K, false, 18}, {"Q4_K_M", DType::Q4_K, true, 15}, {"Q5_K_M", DType::Q5_K, true, 17},
};

const Target* find_target(std::string_view s) {
  for (const auto& t : kTargets) {
    const std::string_view n = t.name;
    if (n.size() != s.size()) continue;
    bool eq = true;
    for (size_t i = 0; i < n.size() && eq; ++i) eq = std::toupper(static_cast<unsigned char>(s[i])) == n[i];
    if (eq) return &t;
  }
  return nullptr;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

bool is_float_type(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// Matrices that get the target type: weights with 2+ dimensions, not norms or MoE routers.
bool is_quantizable(const gguf::TensorInfo& ti) {
  return ti.n_dims >= 2 && ends_with(ti.name, "weight") && !contains(ti.name, "norm") &&
         !contains(ti.name, "ffn_gate_inp");
}

// llama.cpp's use_more_bits: layer i of n gets more bits in the first and last eighth of the
// layers and in every third layer between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// A type whose block fits rows of ne0 elements (llama.cpp's fallbacks for K-quants).
DType fit_row(DType t, int64_t ne0) {
  if (ne0 % dtype_block_size(t) == 0) return t;
  switch (t) {
    case DType::Q2_K:
    case DType::Q3_K: t = DType::Q4_0; break;
    case DType::Q4_K: t = DType::Q5_0; break;
    case DType::Q5_K: t = DType::Q5_1; break;
    case DType::Q6_K: t = DType::Q8_0; break;
    default: break;
  }
  return ne0 % dtype_block_size(t) == 0 ? t : DType::F16;
}

// Chooses every tensor's output type.
class Planner {
 public:
  Planner(const Target& target, const std::vector<gguf::TensorInfo>& tensors) : target_(target) {
    for (const auto& ti : tensors) {
      if (ti.name == "output.weight") has_output_ = true;
      if (contains(ti.name, "attn_v.weight")) ++n_attn_v_;
      if (contains(ti.name, "ffn_down")) ++n_ffn_down_;
    }
  }

  DType choose(const gguf::TensorInfo& ti) {
    if (!is_quantizable(ti)) return is_float_type(ti.type) ? ti.type : DType::F32;
    DType t = target_.base;
    if (target_.mix) {
      const bool more_bits_step = target_.base == DType::Q4_K;  // Q4_K_M: qkv to Q5_K; Q5_K_M: Q6_K
      if (ti.name == "output.weight" || (!has_output_ && ti.name == "token_embd.weight")) {
        t = DType::Q6_K;
      } else if (contains(ti.name, "attn_v.weight")) {
        if (use_more_bits(i_attn_v_++, n_attn_v_)) t = DType::Q6_K;
      } else if (contains(ti.name, "ffn_down")) {
        if (use_more_bits(i_ffn_down_++, n_ffn_down_)) t = DType::Q6_K;
      } else if (contains(ti.name, "attn_qkv.weight")) {
        t = more_bits_step ? DType::Q5_K : DType::Q6_K;
      }
    }
    return fit_row(t, ti.ne[0]);
  }

 private:
  const Target& target_;
  bool has_output_ = false;
  int n_attn_v_ = 0, i_attn_v_ = 0, n_ffn_down_ = 0, i_ffn_down_ = 0;
};

void check_finite(const Tensor& f32, const std::string& name) {
  const float* p = f32.data_as<float>();
  const int64_t n = f32.numel();
  for (int64_t i = 0; i < n; ++i)
    HELIX_CHECK(std::isfinite(p[i]), "tensor '", name, "' has a non-finite value (", p[i], ") at element ",
                i, "; block quantization cannot represent it - fix or re-export the source model");
}

std::string shape_of(const gguf::TensorInfo& ti) {
  std::string s = "[";
  for (int i = 0; i < ti.n_dims; ++i) s += (i ? ", " : "") + std::to_string(ti.ne[i]);
  return s + "]";
}

double mib(uint64_t n) { return static_cast<double>(n) / (1 << 20); }

// Refuses an output that cannot be written before any work is done (see the top of the file).
// `need` is the expected size of the output file.
void check_output(const std::string& in_path, const std::string& out_path, uint64_t need) {
  namespace fs = std::filesystem;
  std::error_code ec;
  HELIX_CHECK(!fs::is_directory(out_path, ec), "the output '", out_path, "' is a folder; give a file name");
  HELIX_CHECK(!fs::exists(out_path, ec) || !fs::equivalent(in_path, out_path, ec),
              "the output '", out_path, "' is the input file; write to another file");
  const fs::path dir = fs::path(out_path).parent_path().empty() ? fs::path(".") : fs::path(out_path).parent_path();
  HELIX_CHECK(fs::is_directory(dir, ec), "cannot write '", out_path, "': the folder '", dir.string(),
              "' does not exist");
  // The writer creates OUT.tmp and renames it at the end: try exactly that now.
  const std::string probe = out_path + ".tmp";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  HELIX_CHECK(fd >= 0, "cannot write '", out_path, "': ", std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) == 0) {
    const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    HELIX_CHECK(free_bytes >= need, "cannot write '", out_path, "': it needs about ", static_cast<int64_t>(mib(need)),
                " MiB and the disk has ", static_cast<int64_t>(mib(free_bytes)), " MiB free");
  }
}

}  // namespace

void convert_model(const gguf::GGUFFile& in, const std::string& out_path, const std::string& type,
                   const ReplaceFn& replace) {
  const Target* target = type.empty() ? nullptr : find_target(type);
  HELIX_CHECK(type.empty() || target, "unknown target type '", type, "'; choose one of F32 F16 BF16 Q8_0 Q4_0 ",
              "Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K Q4_K_M Q5_K_M");
  const auto& infos = in.tensors();

  // Plan every tensor first, so that problems show up before any work is done. Without a target
  // every tensor keeps its type (one that Helix cannot write back becomes F32).
  std::optional<Planner> planner;
  if (target) planner.emplace(*target, infos);
  std::vector<DType> out_types;
  std::set<std::string> requantized;
  bool any_quantized = false;
  uint64_t out_bytes = 0;  // tensor data of the output, padded: with the header, its file size
  for (const auto& ti : infos) {
    const DType t = planner ? planner->choose(ti) : quant::can_quantize(ti.type) ? ti.type : DType::F32;
    HELIX_CHECK(ti.type == t || quant::can_dequantize(ti.type), "tensor '", ti.name, "' has type ",
                dtype_name(ti.type), ", which Helix cannot convert");
    if (ti.type != t && dtype_is_quantized(ti.type) && dtype_is_quantized(t))
      requantized.insert(std::string(dtype_name(ti.type)));
    any_quantized = any_quantized || dtype_is_quantized(t);
    out_types.push_back(t);
    const int64_t rows = ti.ne[1] * ti.ne[2] * ti.ne[3];
    out_bytes += dtype_row_bytes(t, ti.ne[0]) * static_cast<uint64_t>(rows) + in.alignment();
  }
  check_output(in.path(), out_path, out_bytes + in.data_offset());
  if (!requantized.empty() && target) {
    std::string types;
    for (const auto& s : requantized) types += (types.empty() ? "" : ", ") + s;
    std::fprintf(stderr,
                 "helix: warning: %s is already quantized (%s); requantizing adds the errors of "
                 "both formats - quantize from an F16/BF16/F32 model where you can\n",
                 in.path().c_str(), types.c_str());
  }

  gguf::GGUFWriter w;
  for (const auto& [key, value] : in.metadata()) w.set(key, value);
  if (target) w.set("general.file_type", gguf::Value::u32(target->file_type));
  if (any_quantized) w.set("general.quantization_version", gguf::Value::u32(2));

  std::deque<Tensor> keep;  // converted data must outlive w.write()
  for (size_t i = 0; i < infos.size(); ++i) {
    const auto& ti = infos[i];
    const DType to = out_types[i];
    const std::vector<float> replaced = replace ? replace(ti) : std::vector<float>();
    std::fprintf(stderr, "[%zu/%zu] %-32s %-6s -> %-6s %s%s\n", i + 1, infos.size(), ti.name.c_str(),
                 std::string(dtype_name(ti.type)).c_str(), std::string(dtype_name(to)).c_str(),
                 shape_of(ti).c_str(), replaced.empty() ? "" : " (updated)");
    const Tensor src = in.tensor(ti);
    if (to == ti.type && replaced.empty()) {
      w.add_tensor(ti.name, to, ti.ne, ti.n_dims, src.data());
      continue;
    }
    Tensor f32;
    if (!replaced.empty()) {
      HELIX_CHECK(static_cast<int64_t>(replaced.size()) == src.numel(), "new values for '", ti.name, "': ",
                  replaced.size(), ", the tensor has ", src.numel());
      f32 = Tensor::empty(DType::F32, ti.ne, ti.n_dims);
      std::copy(replaced.begin(), replaced.end(), f32.data_as<float>());
    } else {
      f32 = ti.type == DType::F32 ? src : quant::dequantize(src);
    }
    if (dtype_is_quantized(to)) check_finite(f32, ti.name);
    keep.push_back(to == DType::F32 ? f32 : quant::quantize(f32, to));
    w.add_tensor(ti.name, to, ti.ne, ti.n_dims, keep.back().data());
  }
  w.write(out_path);
  const uint64_t size_out = std::filesystem::file_size(out_path);
  std::fprintf(stderr, "helix: wrote %s (%s): file size %.1f MiB -> %.1f MiB (%" PRIu64 " -> %" PRIu64
               " bytes)\n", out_path.c_str(), target ? target->name : "types kept", mib(in.file_size()),
               mib(size_out), in.file_size(), size_out);
}

int cmd_quantize(int argc, char** argv) {
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if ((a == "-t" || a == "--threads") && i + 1 < argc) {
      ThreadPool::set_global_threads(static_cast<int>(int_flag(a, argv[++i], 1, 1024)));
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "helix quantize: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() != 3) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  HELIX_CHECK(find_target(pos[2]), "unknown target type '", pos[2], "'; choose one of F32 F16 BF16 Q8_0 Q4_0 Q4_1 ",
              "Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K Q4_K_M Q5_K_M");
  convert_model(gguf::GGUFFile::open(pos[0]), pos[1], pos[2]);
  return 0;
}

}  // namespace helix::cli

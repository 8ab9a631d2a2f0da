// helix inspect [FILE]: a model file's header, metadata and tensor table, like gguf-dump.
// FILE is a .gguf file, a .safetensors file, or a Hugging Face model directory (config.json plus
// safetensors weights). --json prints the same facts machine-readably (full arrays included);
// --no-tensors leaves out the tensor table; --hash adds an FNV-1a 64 hash of each tensor's bytes.
// Hidden, for the interop tests: --copy-to OUT rewrites a GGUF file through Helix's own writer.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "core/error.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "tokenizer/tokenizer.h"

namespace helix::cli {
namespace {

using nlohmann::ordered_json;

struct Options {
  std::string path;
  bool json = false;
  bool tensors = true;
  bool hash = false;
  std::string copy_to;
};

void usage(FILE* out) {
  std::fprintf(out,
               "usage: helix inspect [FILE] [--json] [--no-tensors] [--hash]\n\n"
               "Prints a model file's header, metadata and tensor table.\n"
               "FILE is a .gguf file, a .safetensors file or a Hugging Face model directory\n"
               "(config.json + safetensors); the default model when omitted.\n\n"
               "  --json        machine-readable output (arrays in full)\n"
               "  --no-tensors  leave out the tensor table\n"
               "  --hash        add an FNV-1a 64-bit hash of each tensor's bytes\n");
}

uint64_t fnv1a64(const uint8_t* p, uint64_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex64(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

void print_json(const ordered_json& j) {
  std::cout << j.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
}

// ---- GGUF ----

ordered_json value_json(const gguf::Value& v) {
  using gguf::ValueType;
  switch (v.type()) {
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64: return v.as_uint();
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64: return v.as_int();
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: {
      const double d = v.as_float();
      if (std::isfinite(d)) return d;
      return std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf");
    }
    case ValueType::BOOL: return v.as_bool();
    case ValueType::STRING: return v.as_string();
    case ValueType::ARRAY: {
      ordered_json a = ordered_json::array();
      for (const auto& e : v.elems()) a.push_back(value_json(e));
      return a;
    }
  }
  return nullptr;
}

std::string type_label(const gguf::Value& v) {
  if (!v.is_array()) return gguf::value_type_name(v.type());
  if (v.elem_type() == gguf::ValueType::ARRAY) {
    std::string inner = "ARRAY";
    if (v.size()) inner = type_label(v.elems()[0]);
    return "[" + inner + "]";
  }
  return cat("[", gguf::value_type_name(v.elem_type()), "]");
}

// llama.cpp's names of general.file_type (enum llama_ftype; gguf-py's LlamaFileType without
// its MOSTLY_/ALL_ prefix). Values llama.cpp has retired keep their old names.
std::string file_type_name(uint64_t ft) {
  static const char* const kNames[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",    "Q4_1_SOME_F16", "Q4_2",   "Q4_3",    "Q8_0",   "Q5_0",
      "Q5_1",    "Q2_K",   "Q3_K_S",  "Q3_K_M",  "Q3_K_L",        "Q4_K_S", "Q4_K_M",  "Q5_K_S", "Q5_K_M",
      "Q6_K",    "IQ2_XXS", "IQ2_XS", "Q2_K_S",  "IQ3_XS",        "IQ3_XXS", "IQ1_S",  "IQ4_NL", "IQ3_S",
      "IQ3_M",   "IQ2_S",  "IQ2_M",   "IQ4_XS",  "IQ1_M",         "BF16",   "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8",
      "TQ1_0",   "TQ2_0",  "MXFP4_MOE", "NVFP4", "Q1_0"};
  constexpr uint64_t kGuessed = 1024;  // LLAMA_FTYPE_GUESSED
  if (ft & kGuessed) return file_type_name(ft & ~kGuessed) + " (guessed)";
  if (ft < std::size(kNames)) return kNames[ft];
  return cat("unknown (", ft, ")");
}

// Parameter count and bytes of each tensor type, in order of first appearance.
struct TypeSummary {
  std::string type;
  uint64_t tensors = 0, params = 0, bytes = 0;
};
struct Summary {
  uint64_t params = 0;
  std::vector<TypeSummary> types;
  std::optional<uint64_t> file_type;  // general.file_type
};

Summary summarize(const gguf::GGUFFile& f) {
  Summary s;
  for (const auto& t : f.tensors()) {
    const uint64_t n = static_cast<uint64_t>(t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3]);
    const std::string type(dtype_name(t.type));
    auto it = std::find_if(s.types.begin(), s.types.end(), [&](const TypeSummary& x) { return x.type == type; });
    if (it == s.types.end()) it = s.types.insert(s.types.end(), TypeSummary{type});
    ++it->tensors;
    it->params += n;
    it->bytes += t.nbytes;
    s.params += n;
  }
  for (const auto& [k, v] : f.metadata()) {
    if (k != "general.file_type") continue;
    try {
      s.file_type = v.as_uint();
    } catch (const std::exception&) {  // not an unsigned integer: shown as metadata only
    }
  }
  return s;
}

void summary_json(const Summary& s, ordered_json& j) {
  if (s.file_type) {
    j["file_type"] = *s.file_type;
    j["file_type_name"] = file_type_name(*s.file_type);
  }
  j["parameter_count"] = s.params;
  ordered_json tj = ordered_json::array();
  for (const auto& t : s.types)
    tj.push_back({{"type", t.type}, {"tensors", t.tensors}, {"parameters", t.params}, {"bytes", t.bytes}});
  j["types"] = std::move(tj);
}

void print_summary(const Summary& s) {
  if (s.file_type)
    std::printf("  file type:    %s (general.file_type = %" PRIu64 ")\n", file_type_name(*s.file_type).c_str(),
                *s.file_type);
  else
    std::printf("  file type:    not given (no general.file_type)\n");
  std::printf("  parameters:   %" PRIu64 " (%.2f M)\n", s.params, static_cast<double>(s.params) / 1e6);
  std::printf("\ntensor types:\n  %-8s %8s %14s %14s %12s %10s\n", "type", "tensors", "parameters", "bytes", "", "bits/param");
  for (const auto& t : s.types)
    std::printf("  %-8s %8" PRIu64 " %14" PRIu64 " %14" PRIu64 " %12s %10.2f\n", t.type.c_str(), t.tensors, t.params,
                t.bytes, human_bytes(t.bytes).c_str(),
                t.params ? 8.0 * static_cast<double>(t.bytes) / static_cast<double>(t.params) : 0.0);
  std::printf("\n");
}

// The file's tokenizer as Helix reads it ("" when the file names none).
std::string tokenizer_info(const gguf::GGUFFile& f) {
  if (f.get_string("tokenizer.ggml.model", "").empty()) return "";
  try {
    const auto tok = tok::Tokenizer::from_gguf(f);
    return cat(tok->describe(), ", ", tok->n_vocab(), " token ids");
  } catch (const Error& e) {
    return cat("not usable: ", e.what());
  }
}

int inspect_gguf(const Options& o) {
  const auto f = gguf::GGUFFile::open(o.path);
  const auto& ts = f.tensors();
  uint64_t total = 0;
  for (const auto& t : ts) total += t.nbytes;
  auto shape_of = [](const gguf::TensorInfo& t) {
    return std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims);
  };
  if (o.json) {
    ordered_json j;
    j["format"] = "gguf";
    j["path"] = f.path();
    j["version"] = f.version();
    j["alignment"] = f.alignment();
    j["tensor_count"] = ts.size();
    j["kv_count"] = f.metadata().size();
    j["file_size"] = f.file_size();
    j["data_offset"] = f.data_offset();
    if (const std::string t = tokenizer_info(f); !t.empty()) j["tokenizer"] = t;
    summary_json(summarize(f), j);
    ordered_json md = ordered_json::array();
    for (const auto& [k, v] : f.metadata()) {
      ordered_json e;
      e["key"] = k;
      e["type"] = gguf::value_type_name(v.type());
      if (v.is_array()) e["elem_type"] = gguf::value_type_name(v.elem_type());
      e["value"] = value_json(v);
      md.push_back(std::move(e));
    }
    j["metadata"] = std::move(md);
    if (o.tensors) {
      ordered_json tj = ordered_json::array();
      for (size_t i = 0; i < ts.size(); ++i) {
        const auto& t = ts[i];
        ordered_json e;
        e["index"] = i;
        e["name"] = t.name;
        e["shape"] = shape_of(t);
        e["type"] = std::string(dtype_name(t.type));
        e["offset"] = f.data_offset() + t.offset;
        e["nbytes"] = t.nbytes;
        if (o.hash) e["fnv1a64"] = hex64(fnv1a64(f.tensor_data(t), t.nbytes));
        tj.push_back(std::move(e));
      }
      j["tensors"] = std::move(tj);
      j["total_bytes"] = total;
    }
    print_json(j);
    return 0;
  }
  std::printf("GGUF file %s\n", f.path().c_str());
  std::printf("  version:      %u\n", f.version());
  std::printf("  alignment:    %" PRIu64 "\n", f.alignment());
  std::printf("  tensors:      %zu\n", ts.size());
  std::printf("  metadata:     %zu keys\n", f.metadata().size());
  std::printf("  file size:    %" PRIu64 " bytes (%s)\n", f.file_size(), human_bytes(f.file_size()).c_str());
  std::printf("  data offset:  %" PRIu64 "\n", f.data_offset());
  if (const std::string t = tokenizer_info(f); !t.empty()) std::printf("  tokenizer:    %s\n", t.c_str());
  print_summary(summarize(f));
  std::printf("metadata:\n");
  size_t kw = 0;
  for (const auto& [k, v] : f.metadata()) kw = std::max(kw, k.size());
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    const auto& [k, v] = f.metadata()[i];
    std::printf("  %4zu  %-*s  %-10s %s\n", i + 1, static_cast<int>(kw), k.c_str(), type_label(v).c_str(),
                v.to_string(8).c_str());
  }
  if (!o.tensors) return 0;
  std::printf("\ntensors:\n");
  size_t nw = 4;
  for (const auto& t : ts) nw = std::max(nw, t.name.size());
  std::printf("  %4s  %-*s  %-26s %-8s %14s\n", "#", static_cast<int>(nw), "name", "shape", "type", "bytes");
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& t = ts[i];
    std::printf("  %4zu  %-*s  %-26s %-8s %14" PRIu64 "", i, static_cast<int>(nw), t.name.c_str(),
                shape_str(shape_of(t)).c_str(), std::string(dtype_name(t.type)).c_str(), t.nbytes);
    if (o.hash) std::printf("  %s", hex64(fnv1a64(f.tensor_data(t), t.nbytes)).c_str());
    std::printf("\n");
  }
  std::printf("  total: %zu tensors, %" PRIu64 " bytes (%s)\n", ts.size(), total, human_bytes(total).c_str());
  return 0;
}

// Reads a GGUF file and writes it again through GGUFWriter (metadata, alignment, tensor bytes).
int copy_gguf(const Options& o) {
  const auto f = gguf::GGUFFile::open(o.path);
  gguf::GGUFWriter w;
  for (const auto& [k, v] : f.metadata()) w.set(k, v);
  for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.ne, t.n_dims, f.tensor_data(t));
  w.write(o.copy_to);
  return 0;
}

// ---- safetensors / Hugging Face directories ----

ordered_json st_tensors_json(const std::vector<const io::SafetensorsFile*>& files, bool hash, uint64_t* total) {
  ordered_json tj = ordered_json::array();
  size_t idx = 0;
  for (const auto* f : files) {
    for (const auto& t : f->tensors()) {
      ordered_json e;
      e["index"] = idx++;
      e["name"] = t.name;
      e["shape"] = t.shape;
      e["type"] = t.dtype;
      if (files.size() > 1) e["file"] = std::filesystem::path(f->path()).filename().string();
      e["offset"] = f->data_offset() + t.begin;
      e["nbytes"] = t.nbytes();
      if (hash) e["fnv1a64"] = hex64(fnv1a64(f->tensor_data(t), t.nbytes()));
      *total += t.nbytes();
      tj.push_back(std::move(e));
    }
  }
  return tj;
}

void print_st_table(const std::vector<const io::SafetensorsFile*>& files, bool hash) {
  size_t nw = 4;
  for (const auto* f : files)
    for (const auto& t : f->tensors()) nw = std::max(nw, t.name.size());
  std::printf("\ntensors:\n  %4s  %-*s  %-26s %-8s %14s\n", "#", static_cast<int>(nw), "name", "shape", "type",
              "bytes");
  size_t idx = 0;
  uint64_t total = 0;
  for (const auto* f : files) {
    for (const auto& t : f->tensors()) {
      std::printf("  %4zu  %-*s  %-26s %-8s %14" PRIu64 "", idx++, static_cast<int>(nw), t.name.c_str(),
                  shape_str(t.shape).c_str(), t.dtype.c_str(), t.nbytes());
      if (hash) std::printf("  %s", hex64(fnv1a64(f->tensor_data(t), t.nbytes())).c_str());
      std::printf("\n");
      total += t.nbytes();
    }
  }
  std::printf("  total: %zu tensors, %" PRIu64 " bytes (%s)\n", idx, total, human_bytes(total).c_str());
}

int inspect_safetensors(const Options& o) {
  const auto f = io::SafetensorsFile::open(o.path);
  const std::vector<const io::SafetensorsFile*> files{&f};
  if (o.json) {
    ordered_json j;
    j["format"] = "safetensors";
    j["path"] = f.path();
    j["header_size"] = f.header_size();
    j["tensor_count"] = f.tensors().size();
    j["file_size"] = f.file_size();
    j["data_offset"] = f.data_offset();
    ordered_json md = ordered_json::object();
    for (const auto& [k, v] : f.metadata()) md[k] = v;
    j["metadata"] = std::move(md);
    if (o.tensors) {
      uint64_t total = 0;
      j["tensors"] = st_tensors_json(files, o.hash, &total);
      j["total_bytes"] = total;
    }
    print_json(j);
    return 0;
  }
  std::printf("safetensors file %s\n", f.path().c_str());
  std::printf("  header size:  %" PRIu64 " bytes\n", f.header_size());
  std::printf("  tensors:      %zu\n", f.tensors().size());
  std::printf("  file size:    %" PRIu64 " bytes (%s)\n", f.file_size(), human_bytes(f.file_size()).c_str());
  std::printf("\nmetadata (__metadata__):\n");
  for (const auto& [k, v] : f.metadata()) std::printf("  %s = %s\n", k.c_str(), gguf::quote_string(v).c_str());
  if (o.tensors) print_st_table(files, o.hash);
  return 0;
}

int inspect_hf_dir(const Options& o) {
  const auto d = io::HFModelDir::open(o.path);
  std::vector<const io::SafetensorsFile*> files;
  for (const auto& s : d.shards()) files.push_back(&s);
  if (o.json) {
    ordered_json j;
    j["format"] = "hf-directory";
    j["path"] = d.dir();
    j["config"] = d.config();
    ordered_json sh = ordered_json::array();
    for (const auto* f : files) sh.push_back(std::filesystem::path(f->path()).filename().string());
    j["shards"] = std::move(sh);
    j["tensor_count"] = d.tensor_count();
    if (o.tensors) {
      uint64_t total = 0;
      j["tensors"] = st_tensors_json(files, o.hash, &total);
      j["total_bytes"] = total;
    }
    print_json(j);
    return 0;
  }
  std::printf("Hugging Face model directory %s\n", d.dir().c_str());
  std::printf("  model type:   %s\n", d.model_type().c_str());
  std::printf("  shards:       %zu\n", files.size());
  for (const auto* f : files)
    std::printf("    %s (%s)\n", std::filesystem::path(f->path()).filename().string().c_str(),
                human_bytes(f->file_size()).c_str());
  std::printf("  tensors:      %zu\n", d.tensor_count());
  std::printf("\nconfig.json:\n");
  for (const auto& [k, v] : d.config().items()) {
    std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (s.size() > 120) s = s.substr(0, 117) + "...";
    std::printf("  %s = %s\n", k.c_str(), s.c_str());
  }
  if (o.tensors) print_st_table(files, o.hash);
  return 0;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--no-tensors") {
      o.tensors = false;
    } else if (a == "--hash") {
      o.hash = true;
    } else if (a == "--copy-to" && i + 1 < argc) {
      o.copy_to = argv[++i];
    } else if ((a == "-m" || a == "--model") && i + 1 < argc) {
      o.path = argv[++i];
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "helix inspect: unknown option '%s'\n\n", a.c_str());
      usage(stderr);
      return 2;
    } else if (o.path.empty()) {
      o.path = a;
    } else {
      std::fprintf(stderr, "helix inspect: more than one FILE given ('%s' and '%s')\n", o.path.c_str(), a.c_str());
      return 2;
    }
  }
  o.path = resolve_model_path(o.path);
  std::error_code ec;
  if (std::filesystem::is_directory(o.path, ec)) return inspect_hf_dir(o);
  if (ends_with(o.path, ".safetensors")) return inspect_safetensors(o);
  if (!o.copy_to.empty()) return copy_gguf(o);
  return inspect_gguf(o);
}

}  // namespace helix::cli

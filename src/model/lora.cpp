// LoRA adapter files in llama.cpp's GGUF layout (see model/lora.h): reading (factors of any type
// the dequantizers take: F32, F16, BF16, Q8_0 as llama.cpp's convert_lora_to_gguf.py can emit),
// writing (f32), and checking an adapter against the base model it is applied to.
#include "model/lora.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "io/gguf.h"
#include "quant/quant.h"

namespace helix::model {

namespace {

constexpr const char* kSuffixA = ".lora_a";
constexpr const char* kSuffixB = ".lora_b";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The tensor as f32, row-major in file order (ne[1] rows of ne[0]).
std::vector<float> read_f32(const gguf::GGUFFile& f, const gguf::TensorInfo& info) {
  HELIX_CHECK(info.n_dims == 2 || (info.ne[2] == 1 && info.ne[3] == 1), "LoRA tensor '", info.name, "' in '",
              f.path(), "' has ", info.n_dims, " dimensions; LoRA factors are matrices");
  HELIX_CHECK(quant::can_dequantize(info.type), "LoRA tensor '", info.name, "' in '", f.path(), "' has type ",
              dtype_name(info.type), ", which Helix cannot read (use F32, F16, BF16 or Q8_0)");
  const int64_t n0 = info.ne[0], n1 = info.ne[1];
  std::vector<float> out(static_cast<size_t>(n0 * n1));
  const uint8_t* src = f.tensor_data(info);
  const size_t row_bytes = dtype_row_bytes(info.type, n0);
  for (int64_t r = 0; r < n1; ++r)
    quant::dequantize_row(info.type, src + static_cast<size_t>(r) * row_bytes, out.data() + r * n0, n0);
  return out;
}

// Rows x cols row-major -> cols x rows row-major.
std::vector<float> transpose(const std::vector<float>& m, int64_t rows, int64_t cols) {
  std::vector<float> t(m.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[static_cast<size_t>(c * rows + r)] = m[static_cast<size_t>(r * cols + c)];
  return t;
}

}  // namespace

bool lora_is_embedding(const std::string& base_name) { return base_name == "token_embd.weight"; }

LoraAdapter load_lora(const std::string& path) {
  const gguf::GGUFFile f = gguf::GGUFFile::open(path);
  const std::string type = f.get_string("general.type", "");
  HELIX_CHECK(type == "adapter", "'", path, "' is not a LoRA adapter (general.type is '",
              type.empty() ? "missing" : type,
              "', not 'adapter'); give the model with -m and the adapter with --lora");
  const std::string atype = f.get_string("adapter.type", "");
  HELIX_CHECK(atype == "lora", "'", path, "' is an adapter of type '", atype.empty() ? "missing" : atype,
              "' (adapter.type); Helix reads only LoRA adapters (adapter.type = 'lora')");
  LoraAdapter a;
  a.arch = f.architecture();
  HELIX_CHECK(!a.arch.empty(), "LoRA adapter '", path,
              "' lacks general.architecture (the architecture of the model it was trained on)");
  a.alpha = static_cast<float>(f.get_float("adapter.lora.alpha", 0.0));
  a.name = f.get_string("general.name", "");
  if (a.name.empty()) a.name = std::filesystem::path(path).stem().string();
  a.chat_template = f.get_string("helix.chat_template", "");

  // Pair the factors by base name.
  std::map<std::string, std::pair<const gguf::TensorInfo*, const gguf::TensorInfo*>> pairs;
  for (const gguf::TensorInfo& t : f.tensors()) {
    if (ends_with(t.name, kSuffixA)) {
      pairs[t.name.substr(0, t.name.size() - 7)].first = &t;
    } else if (ends_with(t.name, kSuffixB)) {
      pairs[t.name.substr(0, t.name.size() - 7)].second = &t;
    } else if (ends_with(t.name, "_norm.weight")) {
      continue;  // norm vectors (mergekit-extract-lora adds them); llama.cpp ignores them too
    } else {
      throw Error(cat("LoRA adapter '", path, "' holds the tensor '", t.name,
                      "', which is neither a '<weight>.lora_a' nor a '<weight>.lora_b' factor"));
    }
  }
  bool narrow = !pairs.empty();
  for (const auto& [base, ab] : pairs) {
    HELIX_CHECK(ab.first && ab.second, "LoRA adapter '", path, "' has '", base, ab.first ? kSuffixA : kSuffixB,
                "' without its partner '", base, ab.first ? kSuffixB : kSuffixA, "'");
    const gguf::TensorInfo &ta = *ab.first, &tb = *ab.second;
    LoraPair p;
    if (lora_is_embedding(base)) {
      // llama.cpp keeps the embedding's A transposed (ne = {rank, n_vocab}) so that it can gather
      // rows by token; B is ne = {rank, n_embd} as usual.
      HELIX_CHECK(ta.ne[0] == tb.ne[0], "LoRA adapter '", path, "': '", ta.name, "' has rank ", ta.ne[0],
                  " but '", tb.name, "' has rank ", tb.ne[0]);
      p.rank = ta.ne[0];
      p.n_in = ta.ne[1];
      p.n_out = tb.ne[1];
      p.a = transpose(read_f32(f, ta), p.n_in, p.rank);
    } else {
      HELIX_CHECK(ta.ne[1] == tb.ne[0], "LoRA adapter '", path, "': '", ta.name, "' has rank ", ta.ne[1],
                  " (ne[1]) but '", tb.name, "' has rank ", tb.ne[0],
                  " (ne[0]); lora_a must be ne = {n_in, rank} and lora_b ne = {rank, n_out}");
      p.rank = ta.ne[1];
      p.n_in = ta.ne[0];
      p.n_out = tb.ne[1];
      p.a = read_f32(f, ta);
    }
    HELIX_CHECK(p.rank > 0, "LoRA adapter '", path, "': '", base, "' has rank 0");
    p.b = read_f32(f, tb);
    narrow = narrow && ta.type != DType::F32 && tb.type != DType::F32;
    a.weights.emplace(base, std::move(p));
  }
  a.factor_type = narrow ? DType::F16 : DType::F32;
  HELIX_CHECK(!a.weights.empty(), "LoRA adapter '", path, "' holds no lora_a/lora_b tensor pairs");
  return a;
}

void save_lora(const LoraAdapter& adapter, const std::string& path) {
  HELIX_CHECK(!adapter.arch.empty(), "cannot write LoRA adapter '", path, "': its architecture is not set");
  gguf::GGUFWriter w;
  w.set("general.architecture", gguf::Value::string(adapter.arch));
  w.set("general.type", gguf::Value::string("adapter"));
  if (!adapter.name.empty()) w.set("general.name", gguf::Value::string(adapter.name));
  w.set("adapter.type", gguf::Value::string("lora"));
  w.set("adapter.lora.alpha", gguf::Value::f32(adapter.alpha));
  if (!adapter.chat_template.empty()) w.set("helix.chat_template", gguf::Value::string(adapter.chat_template));
  HELIX_CHECK(adapter.factor_type == DType::F32 || adapter.factor_type == DType::F16, "cannot write LoRA adapter '",
              path, "' with factors of type ", dtype_name(adapter.factor_type), " (F32 or F16)");
  const bool half = adapter.factor_type == DType::F16;
  std::vector<std::vector<float>> transposed;  // embedding A factors, kept alive until write()
  std::vector<std::vector<uint16_t>> halves;   // F16 copies, kept alive until write()
  transposed.reserve(adapter.weights.size());
  halves.reserve(2 * adapter.weights.size());
  auto add = [&](const std::string& name, const std::vector<float>& v, Shape shape) {
    if (!half) {
      w.add_tensor(name, DType::F32, shape, 2, v.data());
      return;
    }
    std::vector<uint16_t>& h = halves.emplace_back(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_f16(v[i]);
    w.add_tensor(name, DType::F16, shape, 2, h.data());
  };
  for (const auto& [base, p] : adapter.weights) {
    HELIX_CHECK(p.rank > 0 && p.n_in > 0 && p.n_out > 0 &&
                    p.a.size() == static_cast<size_t>(p.rank * p.n_in) &&
                    p.b.size() == static_cast<size_t>(p.n_out * p.rank),
                "cannot write LoRA adapter '", path, "': the factors of '", base, "' do not match n_in ", p.n_in,
                ", n_out ", p.n_out, ", rank ", p.rank);
    if (lora_is_embedding(base)) {
      transposed.push_back(transpose(p.a, p.rank, p.n_in));
      add(base + kSuffixA, transposed.back(), Shape{p.rank, p.n_in, 1, 1});
    } else {
      add(base + kSuffixA, p.a, Shape{p.n_in, p.rank, 1, 1});
    }
    add(base + kSuffixB, p.b, Shape{p.rank, p.n_out, 1, 1});
  }
  w.write(path);
}

void check_lora(const LoraAdapter& adapter, const gguf::GGUFFile& base, const std::string& adapter_path) {
  const std::string& label = adapter_path.empty() ? adapter.name : adapter_path;
  HELIX_CHECK(adapter.arch == base.architecture(), "LoRA adapter '", label, "' is for a ", adapter.arch,
              " model, but '", base.path(), "' is a ", base.architecture(),
              " model; use the adapter with the base model it was trained on");
  for (const auto& [name, p] : adapter.weights) {
    const gguf::TensorInfo* t = base.find_tensor(name);
    HELIX_CHECK(t, "LoRA adapter '", label, "' adapts the tensor '", name, "', which the model '", base.path(),
                "' does not have (is the adapter for another base model?)");
    // A weight of ne = {n_in, n_out}; the embedding (ne = {n_embd, n_vocab}) maps a token to n_embd.
    const bool emb = lora_is_embedding(name);
    const int64_t want_in = emb ? t->ne[1] : t->ne[0], want_out = emb ? t->ne[0] : t->ne[1];
    HELIX_CHECK(t->n_dims == 2 && p.n_in == want_in && p.n_out == want_out, "LoRA adapter '", label,
                "': the factors of '", name, "' map ", p.n_in, " -> ", p.n_out, " values, but the model's tensor is ",
                want_in, " -> ", want_out, " (is the adapter for another base model of the same architecture?)");
  }
}

std::vector<float> merge_lora_weight(const gguf::GGUFFile& base, const gguf::TensorInfo& info,
                                     const std::vector<LoraUse>& uses) {
  std::vector<float> w = read_f32(base, info);
  const int64_t n0 = info.ne[0], n1 = info.ne[1];  // n1 rows of n0
  const bool emb = lora_is_embedding(info.name);
  for (const LoraUse& u : uses) {
    auto it = u.adapter->weights.find(info.name);
    if (it == u.adapter->weights.end()) continue;
    const LoraPair& p = it->second;
    const float s = u.scale * u.adapter->scale(p);
    const int64_t R = p.rank;
    // Row r of the tensor is output o = r (weights) or token t = r (embedding); element c is
    // input i = c (weights) or embedding dimension e = c.
    ThreadPool::global().parallel_for(n1, 64, [&](int64_t r0, int64_t r1) {
      std::vector<float> coef(static_cast<size_t>(R));
      for (int64_t r = r0; r < r1; ++r) {
        float* row = w.data() + r * n0;
        if (emb) {  // row t: += s * B·A[:, t]: element e gets sum_j B[e, j] A[j, t]
          for (int64_t j = 0; j < R; ++j) coef[static_cast<size_t>(j)] = s * p.a[static_cast<size_t>(j * n1 + r)];
          for (int64_t e = 0; e < n0; ++e) {
            float acc = 0;
            for (int64_t j = 0; j < R; ++j) acc += p.b[static_cast<size_t>(e * R + j)] * coef[static_cast<size_t>(j)];
            row[e] += acc;
          }
        } else {  // row o: += s * sum_j B[o, j] A[j, :]
          for (int64_t j = 0; j < R; ++j) {
            const float c = s * p.b[static_cast<size_t>(r * R + j)];
            const float* aj = p.a.data() + j * n0;
            for (int64_t i = 0; i < n0; ++i) row[i] += c * aj[i];
          }
        }
      }
    });
  }
  return w;
}

}  // namespace helix::model

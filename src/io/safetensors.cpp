// safetensors reader and Hugging Face model directories: the 8-byte header length, the JSON header
// (validated entry by entry against the file's size), tensor views into the mapping, and
// config.json / model.safetensors.index.json beside the weights.
#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/mapped_file.h"

namespace helix::io {
namespace {

using ojson = nlohmann::ordered_json;

constexpr int kMaxJsonDepth = 32;
constexpr size_t kMaxRank = 16;

struct DTypeEntry {
  std::string_view name;
  size_t size;
  std::optional<DType> helix;
};

constexpr DTypeEntry kDTypes[] = {
    {"F64", 8, DType::F64},   {"F32", 4, DType::F32},   {"F16", 2, DType::F16},   {"BF16", 2, DType::BF16},
    {"I64", 8, DType::I64},   {"I32", 4, DType::I32},   {"I16", 2, DType::I16},   {"I8", 1, DType::I8},
    {"U64", 8, std::nullopt}, {"U32", 4, std::nullopt}, {"U16", 2, std::nullopt}, {"U8", 1, std::nullopt},
    {"BOOL", 1, std::nullopt}, {"F8_E4M3", 1, std::nullopt}, {"F8_E5M2", 1, std::nullopt},
    {"F8_E8M0", 1, std::nullopt},
};

// Parses JSON text with a nesting limit and rejecting duplicate keys (nlohmann would silently keep
// the last one). `what` names the source in errors.
ojson parse_json(const char* begin, const char* end, const std::string& what) {
  std::vector<std::set<std::string>> keys;  // keys seen in each open object
  auto cb = [&](int depth, ojson::parse_event_t ev, ojson& parsed) -> bool {
    if (depth > kMaxJsonDepth)
      throw Error(cat(what, ": JSON nested more than ", kMaxJsonDepth, " levels deep; the file is corrupt"));
    switch (ev) {
      case ojson::parse_event_t::object_start: keys.emplace_back(); break;
      case ojson::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case ojson::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second)
          throw Error(cat(what, ": JSON key '", parsed.get<std::string>(), "' appears twice in one object"));
        break;
      default: break;
    }
    return true;
  };
  try {
    return ojson::parse(begin, end, cb);
  } catch (const ojson::exception& e) {
    throw Error(cat(what, ": invalid JSON: ", e.what()));
  }
}

ojson read_json_file(const std::string& path) {
  const std::string text = read_file(path, "JSON file");
  return parse_json(text.data(), text.data() + text.size(), cat("'", path, "'"));
}

}  // namespace

size_t safetensors_dtype_size(std::string_view dtype) {
  for (const auto& e : kDTypes)
    if (e.name == dtype) return e.size;
  return 0;
}

std::optional<DType> safetensors_to_dtype(std::string_view dtype) {
  for (const auto& e : kDTypes)
    if (e.name == dtype) return e.helix;
  return std::nullopt;
}

Shape SafetensorsTensor::ne() const {
  HELIX_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), "tensor '", name, "' has ", shape.size(),
              " dimensions; Helix tensors have at most ", kMaxDims);
  Shape s{1, 1, 1, 1};
  for (size_t i = 0; i < shape.size(); ++i) s[i] = shape[shape.size() - 1 - i];
  return s;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  return parse(std::make_shared<MappedFile>(path), path);
}

SafetensorsFile SafetensorsFile::parse(std::shared_ptr<Storage> storage, std::string name) {
  HELIX_CHECK(storage != nullptr, "safetensors parse of '", name, "': no data");
  SafetensorsFile f;
  f.storage_ = std::move(storage);
  f.path_ = std::move(name);
  const std::string where = cat("safetensors file '", f.path_, "'");
  auto fail = [&](const std::string& msg) -> void { throw Error(cat(where, ": ", msg)); };

  const uint64_t size = f.storage_->size();
  const auto* data = static_cast<const uint8_t*>(f.storage_->data());
  if (size < 8) fail(cat("truncated: the file is ", size, " bytes, too short for the 8-byte header length"));
  uint64_t n = 0;
  std::memcpy(&n, data, 8);
  if (n > kMaxSafetensorsHeader)
    fail(cat("header length ", n, " is over the ", kMaxSafetensorsHeader, "-byte limit; the file is corrupt",
             std::memcmp(data, "GGUF", 4) == 0 ? " (it is a GGUF file; name it *.gguf)" : ""));
  if (n > size - 8)
    fail(cat("truncated: the header claims ", n, " bytes but only ", size - 8, " follow the length"));
  if (n < 2 || data[8] != '{') fail("the header is not a JSON object (it must start with '{')");
  f.header_size_ = n;
  const char* hb = reinterpret_cast<const char*>(data + 8);
  const ojson header = parse_json(hb, hb + n, where + " header");
  if (!header.is_object()) fail("the header is not a JSON object");

  const uint64_t data_size = size - 8 - n;
  for (const auto& [key, val] : header.items()) {
    if (key == "__metadata__") {
      if (!val.is_object()) fail("__metadata__ is not a JSON object of strings");
      for (const auto& [mk, mv] : val.items()) {
        if (!mv.is_string()) fail(cat("__metadata__ value for '", mk, "' is not a string"));
        f.metadata_.emplace_back(mk, mv.get<std::string>());
      }
      continue;
    }
    const std::string tw = cat("tensor '", key, "': ");
    if (!val.is_object()) fail(tw + "entry is not a JSON object");
    SafetensorsTensor t;
    t.name = key;
    const auto dt = val.find("dtype");
    if (dt == val.end() || !dt->is_string()) fail(tw + "missing or non-string \"dtype\"");
    t.dtype = dt->get<std::string>();
    const size_t esize = safetensors_dtype_size(t.dtype);
    if (esize == 0) fail(cat(tw, "unknown dtype \"", t.dtype, "\""));
    const auto sh = val.find("shape");
    if (sh == val.end() || !sh->is_array()) fail(tw + "missing or non-array \"shape\"");
    if (sh->size() > kMaxRank) fail(cat(tw, sh->size(), " dimensions is more than the ", kMaxRank, " allowed"));
    uint64_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) fail(tw + "shape entries must be non-negative integers");
      const uint64_t v = d.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(cat(tw, "dimension ", v, " is too large"));
      if (v != 0 && numel > std::numeric_limits<uint64_t>::max() / esize / v)
        fail(tw + "the product of its dimensions overflows");
      numel *= v;
      t.shape.push_back(static_cast<int64_t>(v));
    }
    const auto off = val.find("data_offsets");
    if (off == val.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      fail(tw + "\"data_offsets\" must be [begin, end] with non-negative integers");
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.begin > t.end) fail(cat(tw, "data_offsets [", t.begin, ", ", t.end, "] end before they begin"));
    if (t.end > data_size)
      fail(cat(tw, "data [", t.begin, ", ", t.end, ") runs past the end of the data section (", data_size,
               " bytes); the file is truncated or corrupt"));
    if (t.end - t.begin != numel * esize)
      fail(cat(tw, "holds ", t.end - t.begin, " bytes but its shape and dtype ", t.dtype, " need ", numel * esize));
    if ((8 + n + t.begin) % esize != 0)
      fail(cat(tw, "data at file offset ", 8 + n + t.begin, " is not aligned to its ", esize,
               "-byte elements; re-save the file with the safetensors library"));
    f.tensors_.push_back(std::move(t));
  }
  std::stable_sort(f.tensors_.begin(), f.tensors_.end(),
                   [](const auto& a, const auto& b) { return a.begin < b.begin; });
  uint64_t prev_end = 0;
  const SafetensorsTensor* prev = nullptr;
  for (const auto& t : f.tensors_) {
    if (t.nbytes() == 0) continue;
    if (prev && t.begin < prev_end)
      fail(cat("tensors '", prev->name, "' and '", t.name, "' overlap in the data section"));
    prev_end = t.end;
    prev = &t;
  }
  for (size_t i = 0; i < f.tensors_.size(); ++i) f.index_.emplace(f.tensors_[i].name, i);
  return f;
}

const SafetensorsTensor* SafetensorsFile::find_tensor(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const uint8_t* SafetensorsFile::tensor_data(const SafetensorsTensor& t) const {
  return static_cast<const uint8_t*>(storage_->data()) + data_offset() + t.begin;
}

Tensor SafetensorsFile::tensor(std::string_view name) const {
  const auto* t = find_tensor(name);
  HELIX_CHECK(t, "safetensors file '", path_, "' has no tensor named '", name, "'");
  return tensor(*t);
}

Tensor SafetensorsFile::tensor(const SafetensorsTensor& t) const {
  const auto dt = safetensors_to_dtype(t.dtype);
  HELIX_CHECK(dt, "safetensors file '", path_, "': tensor '", t.name, "' has dtype ", t.dtype,
              ", which Helix tensors do not support (use F32, F16, BF16, F64 or I8..I64)");
  HELIX_CHECK(t.shape.size() <= static_cast<size_t>(kMaxDims), "safetensors file '", path_, "': tensor '",
              t.name, "' has ", t.shape.size(), " dimensions; Helix tensors have at most ", kMaxDims);
  return Tensor::wrap(storage_, const_cast<uint8_t*>(tensor_data(t)), *dt, t.ne(),
                      static_cast<int>(t.shape.size()));
}

// ---- HFModelDir ----

HFModelDir HFModelDir::open(const std::string& dir) {
  namespace fs = std::filesystem;
  HFModelDir d;
  d.dir_ = dir;
  std::error_code ec;
  HELIX_CHECK(fs::is_directory(dir, ec), "'", dir, "' is not a directory");
  const fs::path root(dir);
  const fs::path cfg = root / "config.json";
  HELIX_CHECK(fs::exists(cfg, ec), "no config.json in '", dir,
              "'; a Hugging Face model directory needs config.json beside its .safetensors weights");
  d.config_ = read_json_file(cfg.string());
  HELIX_CHECK(d.config_.is_object(), "'", cfg.string(), "' is not a JSON object");

  const fs::path index = root / "model.safetensors.index.json";
  std::vector<std::string> files;
  ojson weight_map;
  if (fs::exists(index, ec)) {
    const ojson idx = read_json_file(index.string());
    HELIX_CHECK(idx.is_object() && idx.contains("weight_map") && idx["weight_map"].is_object(), "'",
                index.string(), "' has no \"weight_map\" object");
    weight_map = idx["weight_map"];
    for (const auto& [name, file] : weight_map.items()) {
      HELIX_CHECK(file.is_string(), "'", index.string(), "': the file for tensor '", name, "' is not a string");
      const std::string fn = file.get<std::string>();
      HELIX_CHECK(!fn.empty() && fn.find('/') == std::string::npos && fn.find('\\') == std::string::npos &&
                      fn != "." && fn != "..",
                  "'", index.string(), "': shard name '", fn, "' must be a plain file name in the directory");
      if (std::find(files.begin(), files.end(), fn) == files.end()) files.push_back(fn);
    }
    std::sort(files.begin(), files.end());
  } else if (fs::exists(root / "model.safetensors", ec)) {
    files.push_back("model.safetensors");
  } else {
    throw Error(cat("no model.safetensors or model.safetensors.index.json in '", dir,
                    "'; download the weights in safetensors format beside config.json"));
  }
  for (const auto& fn : files) {
    d.shards_.push_back(SafetensorsFile::open((root / fn).string()));
    const size_t si = d.shards_.size() - 1;
    for (const auto& t : d.shards_.back().tensors()) {
      HELIX_CHECK(d.where_.emplace(t.name, si).second, "tensor '", t.name, "' is in both '", files[d.where_[t.name]],
                  "' and '", fn, "' in '", dir, "'");
    }
  }
  for (const auto& [name, file] : weight_map.items()) {
    const auto it = d.where_.find(name);
    HELIX_CHECK(it != d.where_.end() && files[it->second] == file.get<std::string>(), "'", index.string(),
                "' places tensor '", name, "' in '", file.get<std::string>(), "' but that shard does not hold it");
  }
  return d;
}

bool HFModelDir::has(std::string_view key) const {
  const auto it = config_.find(std::string(key));
  return it != config_.end() && !it->is_null();
}

namespace {
const ojson* config_value(const ojson& c, std::string_view key) {
  const auto it = c.find(std::string(key));
  return it == c.end() || it->is_null() ? nullptr : &*it;
}
}  // namespace

int64_t HFModelDir::get_int(std::string_view key, int64_t fallback) const {
  const ojson* v = config_value(config_, key);
  if (!v) return fallback;
  HELIX_CHECK(v->is_number_integer(), "config.json in '", dir_, "': \"", key, "\" is ", v->type_name(),
              ", not an integer");
  if (v->is_number_unsigned())
    HELIX_CHECK(v->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                "config.json in '", dir_, "': \"", key, "\" is too large");
  return v->get<int64_t>();
}

double HFModelDir::get_float(std::string_view key, double fallback) const {
  const ojson* v = config_value(config_, key);
  if (!v) return fallback;
  HELIX_CHECK(v->is_number(), "config.json in '", dir_, "': \"", key, "\" is ", v->type_name(), ", not a number");
  return v->get<double>();
}

bool HFModelDir::get_bool(std::string_view key, bool fallback) const {
  const ojson* v = config_value(config_, key);
  if (!v) return fallback;
  HELIX_CHECK(v->is_boolean(), "config.json in '", dir_, "': \"", key, "\" is ", v->type_name(), ", not a boolean");
  return v->get<bool>();
}

std::string HFModelDir::get_string(std::string_view key, const std::string& fallback) const {
  const ojson* v = config_value(config_, key);
  if (!v) return fallback;
  HELIX_CHECK(v->is_string(), "config.json in '", dir_, "': \"", key, "\" is ", v->type_name(), ", not a string");
  return v->get<std::string>();
}

std::string HFModelDir::architecture() const {
  const ojson* v = config_value(config_, "architectures");
  if (!v || !v->is_array() || v->empty() || !(*v)[0].is_string()) return "";
  return (*v)[0].get<std::string>();
}

std::vector<std::string> HFModelDir::tensor_names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& s : shards_)
    for (const auto& t : s.tensors()) out.push_back(t.name);
  return out;
}

std::pair<const SafetensorsTensor*, const SafetensorsFile*> HFModelDir::find_tensor(std::string_view name) const {
  const auto it = where_.find(name);
  if (it == where_.end()) return {nullptr, nullptr};
  const auto& s = shards_[it->second];
  return {s.find_tensor(name), &s};
}

Tensor HFModelDir::tensor(std::string_view name) const {
  const auto [t, s] = find_tensor(name);
  HELIX_CHECK(t, "model directory '", dir_, "' has no tensor named '", name, "'");
  return s->tensor(*t);
}

}  // namespace helix::io

// helix dequant FILE [--tensor NAME] --out OUT.f32 (hidden, for tests and debugging): the values
// of a GGUF file's tensors as raw little-endian f32, through the scalar reference dequantizer.
// Without --tensor every tensor is written, concatenated in file order.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "io/gguf.h"
#include "quant/quant.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix dequant FILE [--tensor NAME] --out OUT.f32\n"
    "Writes the tensors of a GGUF file as raw little-endian f32 (all tensors concatenated in\n"
    "file order, or the one named by --tensor).\n";

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

// Dequantizes `info` in chunks of rows and appends the f32 values to `out`.
void write_tensor(const gguf::GGUFFile& file, const gguf::TensorInfo& info, FILE* out,
                  const std::string& out_path) {
  HELIX_CHECK(quant::can_dequantize(info.type), "tensor '", info.name, "' has type ",
              dtype_name(info.type), ", which Helix cannot dequantize");
  const Tensor t = file.tensor(info);
  const int64_t rows = t.nrows();
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(1, t.ne(0)));
  const Tensor matrix = t.reshape({t.ne(0), rows});
  for (int64_t r = 0; r < rows; r += chunk) {
    const Tensor part = quant::dequantize(matrix.view_rows(r, std::min(chunk, rows - r)));
    const size_t n = static_cast<size_t>(part.numel());
    HELIX_CHECK(std::fwrite(part.data(), sizeof(float), n, out) == n, "cannot write ", out_path);
  }
}

}  // namespace

int cmd_dequant(int argc, char** argv) {
  std::string file_path, tensor_name, out_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--tensor" && i + 1 < argc) {
      tensor_name = argv[++i];
    } else if (a == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (!a.empty() && a[0] != '-' && file_path.empty()) {
      file_path = a;
    } else {
      std::fprintf(stderr, "helix dequant: unexpected argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (file_path.empty() || out_path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const gguf::GGUFFile file = gguf::GGUFFile::open(file_path);
  std::vector<const gguf::TensorInfo*> selected;
  if (!tensor_name.empty()) {
    const gguf::TensorInfo* info = file.find_tensor(tensor_name);
    HELIX_CHECK(info, "no tensor named '", tensor_name, "' in ", file_path);
    selected.push_back(info);
  } else {
    for (const auto& info : file.tensors()) selected.push_back(&info);
  }
  std::unique_ptr<FILE, FileCloser> out(std::fopen(out_path.c_str(), "wb"));
  HELIX_CHECK(out, "cannot create ", out_path);
  for (const auto* info : selected) write_tensor(file, *info, out.get(), out_path);
  HELIX_CHECK(std::fflush(out.get()) == 0, "cannot write ", out_path);
  return 0;
}

}  // namespace helix::cli

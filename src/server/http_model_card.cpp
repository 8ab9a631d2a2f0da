// Facts about the served model for /v1/models (see http_model_card.h).
#include "server/http_model_card.h"

#include <sys/stat.h>

#include <map>

namespace helix::server::http {

std::string file_type_name(uint64_t file_type) {
  // llama.cpp's enum llama_ftype (include/llama.h); 4-6 and 33-35 are retired values.
  static const std::map<uint64_t, const char*> kNames = {
      {0, "F32"},      {1, "F16"},     {2, "Q4_0"},     {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
      {9, "Q5_1"},     {10, "Q2_K"},   {11, "Q3_K_S"},  {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
      {15, "Q4_K_M"},  {16, "Q5_K_S"}, {17, "Q5_K_M"},  {18, "Q6_K"},   {19, "IQ2_XXS"}, {20, "IQ2_XS"},
      {21, "Q2_K_S"},  {22, "IQ3_XS"}, {23, "IQ3_XXS"}, {24, "IQ1_S"},  {25, "IQ4_NL"}, {26, "IQ3_S"},
      {27, "IQ3_M"},   {28, "IQ2_S"},  {29, "IQ2_M"},   {30, "IQ4_XS"}, {31, "IQ1_M"},  {32, "BF16"},
      {36, "TQ1_0"},   {37, "TQ2_0"},  {38, "MXFP4_MOE"},
  };
  auto it = kNames.find(file_type);
  return it == kNames.end() ? "" : it->second;
}

ModelFacts model_facts(const model::Model& m) {
  const gguf::GGUFFile& f = m.file();
  ModelFacts r;
  r.file_size = f.file_size();
  struct stat st {};
  if (!f.path().empty() && ::stat(f.path().c_str(), &st) == 0) {
    r.created = static_cast<int64_t>(st.st_mtime);
    r.file_size = static_cast<uint64_t>(st.st_size);
  }
  for (const auto& t : f.tensors()) {
    uint64_t n = 1;
    for (int d = 0; d < t.n_dims; ++d) n *= static_cast<uint64_t>(t.ne[static_cast<size_t>(d)]);
    r.n_params += n;
  }
  const uint64_t ft = f.get_uint("general.file_type", UINT64_MAX);
  r.quantization = ft == UINT64_MAX ? "unknown" : file_type_name(ft);
  if (r.quantization.empty()) r.quantization = "file type " + std::to_string(ft);
  r.n_ctx_train = m.hparams().n_ctx_train;
  r.n_vocab = m.hparams().n_vocab;
  r.n_embd = m.hparams().n_embd;
  return r;
}

}  // namespace helix::server::http

// helix perplexity: perplexity of a model on a text file, computed as llama.cpp's perplexity
// tool does: the text is tokenized once (with BOS), cut into chunks of -c tokens whose first
// token is replaced by BOS, and each chunk scores the predictions of its second half.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/gen_options.h"
#include "core/error.h"
#include "core/files.h"

namespace helix::cli {

int cmd_perplexity(int argc, char** argv) {
  GenOptions o;
  o.n_ctx = 512;
  if (!parse_gen_options(argc, argv, o,
                         "usage: helix perplexity [-m MODEL] -f FILE [-c N (512)] [-b N] [-t N]\n"))
    return 0;
  HELIX_CHECK(!o.prompt_file.empty(), "perplexity needs a text file: -f FILE");
  const std::string text = read_file(o.prompt_file, "text file");
  Loaded l = load_for_generation(o);
  std::vector<int32_t> toks = l.tokenizer->encode(text, true, false);
  const int64_t n_ctx = o.n_ctx;
  const int64_t n_chunks = static_cast<int64_t>(toks.size()) / n_ctx;
  HELIX_CHECK(n_chunks > 0, "the text has ", toks.size(), " tokens, fewer than one chunk of ", n_ctx,
              "; use a longer text or a smaller -c");
  runtime::Session s(l.model, l.tokenizer, n_ctx + 1, o.n_batch);
  const int64_t V = l.model->hparams().n_vocab;
  double nll = 0;
  int64_t count = 0;
  std::vector<float> logits;
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(toks.begin() + c * n_ctx, toks.begin() + (c + 1) * n_ctx);
    if (l.tokenizer->add_bos() && l.tokenizer->bos() >= 0) chunk[0] = l.tokenizer->bos();
    s.all_logits(chunk, logits);
    for (int64_t i = n_ctx / 2; i < n_ctx - 1; ++i) {
      const float* row = logits.data() + i * V;
      float mx = row[0];
      for (int64_t j = 1; j < V; ++j) mx = std::max(mx, row[j]);
      double sum = 0;
      for (int64_t j = 0; j < V; ++j) sum += std::exp(static_cast<double>(row[j] - mx));
      nll += -(static_cast<double>(row[chunk[static_cast<size_t>(i + 1)]] - mx) - std::log(sum));
      ++count;
    }
    std::fprintf(stderr, "[%lld/%lld] perplexity so far %.4f\n", static_cast<long long>(c + 1),
                 static_cast<long long>(n_chunks), std::exp(nll / static_cast<double>(count)));
  }
  std::printf("perplexity: %.4f over %lld tokens in %lld chunks of %lld\n", std::exp(nll / static_cast<double>(count)),
              static_cast<long long>(count), static_cast<long long>(n_chunks), static_cast<long long>(n_ctx));
  return 0;
}

}  // namespace helix::cli

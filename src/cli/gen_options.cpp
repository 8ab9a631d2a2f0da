#include "cli/gen_options.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/default_model.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "grammar/token_matcher.h"

namespace helix::cli {

bool parse_gen_options(int argc, char** argv, GenOptions& o, const char* usage) {
  auto& s = o.gen.sampling;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      HELIX_CHECK(i + 1 < argc, "option ", a, " needs a value (see --help)");
      return argv[++i];
    };
    auto num = [&](auto parse) {
      const std::string v = val();
      try {
        size_t used = 0;
        auto r = parse(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        return r;
      } catch (const std::exception&) {
        throw Error(cat("option ", a, " expects a number, got '", v, "'"));
      }
    };
    auto as_int = [&] { return num([](const std::string& v, size_t* u) { return std::stoll(v, u); }); };
    auto as_float = [&] { return num([](const std::string& v, size_t* u) { return std::stof(v, u); }); };
    if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      return false;
    } else if (a == "-m" || a == "--model") o.model = val();
    else if (a == "-p" || a == "--prompt") o.prompt = val();
    else if (a == "-f" || a == "--file") o.prompt_file = val();
    else if (a == "-s" || a == "--system") o.system = val();
    else if (a == "-n" || a == "--n-predict") o.n_predict = as_int();
    else if (a == "-c" || a == "--ctx-size") o.n_ctx = as_int();
    else if (a == "-b" || a == "--batch-size") o.n_batch = as_int();
    else if (a == "-t" || a == "--threads") o.threads = static_cast<int>(as_int());
    else if (a == "--temp") s.temperature = as_float();
    else if (a == "--top-k") s.top_k = static_cast<int32_t>(as_int());
    else if (a == "--top-p") s.top_p = as_float();
    else if (a == "--min-p") s.min_p = as_float();
    else if (a == "--repeat-penalty") s.repeat_penalty = as_float();
    else if (a == "--repeat-last-n") s.repeat_last_n = static_cast<int32_t>(as_int());
    else if (a == "--presence-penalty") s.presence_penalty = as_float();
    else if (a == "--frequency-penalty") s.frequency_penalty = as_float();
    else if (a == "--seed") s.seed = static_cast<uint64_t>(as_int());
    else if (a == "--stop") o.gen.stop.push_back(val());
    else if (a == "--profile") o.profile = true;
    else if (a == "--no-bos") o.no_bos = true;
    else if (a == "--json") o.grammar = grammar::Grammar::any_object();
    else if (a == "--json-schema") {
      const std::string path = val();
      std::ifstream f(path, std::ios::binary);
      HELIX_CHECK(f, "cannot read the JSON schema file '", path, "'");
      std::stringstream ss;
      ss << f.rdbuf();
      try {
        o.grammar = grammar::Grammar::from_json_schema_text(ss.str());
      } catch (const grammar::SchemaError& e) {
        throw Error(cat(path, ": ", e.what()));
      }
    }
    else if (!a.empty() && a[0] == '-' && a.size() > 1) throw Error(cat("unknown option '", a, "' (see --help)"));
    else o.rest.push_back(a);
  }
  HELIX_CHECK(o.n_ctx > 8, "context size -c ", o.n_ctx, " is too small");
  HELIX_CHECK(o.n_batch > 0, "batch size -b must be positive");
  HELIX_CHECK(o.threads >= 0, "thread count -t must not be negative");
  o.gen.max_tokens = o.n_predict;
  return true;
}

Loaded load_for_generation(const GenOptions& o) {
  if (o.threads > 0) ThreadPool::set_global_threads(o.threads);
  Loaded l;
  l.path = resolve_model_path(o.model);
  const auto t0 = std::chrono::steady_clock::now();
  std::fprintf(stderr, "loading %s ...\n", l.path.c_str());
  auto file = std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(l.path));
  l.tokenizer = std::shared_ptr<tok::Tokenizer>(tok::Tokenizer::from_gguf(*file));
  l.model = std::shared_ptr<model::Model>(model::load_model(file));
  l.load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& hp = l.model->hparams();
  std::fprintf(stderr, "loaded %s: %lld layers, %lld embd, %lld vocab, %.2f s, %d threads\n", hp.arch.c_str(),
               static_cast<long long>(hp.n_layer), static_cast<long long>(hp.n_embd),
               static_cast<long long>(hp.n_vocab), l.load_s, ThreadPool::global().size());
  return l;
}

void bind_grammar(GenOptions& o, const Loaded& l) {
  if (!o.grammar) return;
  o.gen.sampling.constraint = std::make_shared<grammar::Constraint>(
      grammar::Constraint{o.grammar, std::make_shared<grammar::Vocabulary>(*l.tokenizer)});
}

}  // namespace helix::cli

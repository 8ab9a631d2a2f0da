#include "cli/gen_options.h"

#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "chat/template.h"
#include "cli/default_model.h"
#include "cli/lora_flags.h"
#include "core/error.h"
#include "core/files.h"
#include "core/thread_pool.h"
#include "grammar/token_matcher.h"

namespace helix::cli {
namespace {

constexpr int64_t kMaxThreads = 1024;
constexpr int64_t kMaxCtx = int64_t{1} << 24;

std::string read_text_file(const std::string& what, const std::string& path) {
  return read_file(path, cat(what, " file"));  // stat-checked: a FIFO is an error, not a hang
}

// --chat-template FILE: read and parsed once here, so a bad file is reported before the model loads.
std::string load_chat_template(const std::string& path) {
  std::string text = read_text_file("chat template", path);
  HELIX_CHECK(!text.empty(), "the chat template file '", path, "' is empty");
  try {
    chat::ChatTemplate::parse(text);
  } catch (const std::exception& e) {
    throw Error(cat("the chat template file '", path, "' does not parse: ", e.what()));
  }
  return text;
}

// --logit-bias TOKEN_ID(+|-)BIAS, as llama.cpp spells it: 15043+1.5, 15043-inf.
void add_logit_bias(runtime::SamplingParams& s, const std::string& v) {
  const size_t at = v.find_first_of("+-", 1);
  HELIX_CHECK(at != std::string::npos && at > 0, "option --logit-bias expects TOKEN_ID+BIAS or TOKEN_ID-BIAS ",
              "(e.g. 15043+1.5 or 15043-inf), got '", v, "'");
  const int64_t id = int_flag("--logit-bias (token id)", v.substr(0, at), 0, std::numeric_limits<int32_t>::max());
  const std::string mag = v.substr(at + 1);
  const bool inf = mag == "inf";
  const double b = inf ? INFINITY : float_flag("--logit-bias (bias)", mag, 0);
  s.logit_bias[static_cast<int32_t>(id)] = static_cast<float>(v[at] == '-' ? -b : b);
}

}  // namespace

namespace {

// `what` is "option -t" or "environment variable HELIX_THREADS".
int64_t checked_int(const std::string& what, const std::string& value, int64_t lo, int64_t hi) {
  auto range = [&] {
    if (hi == std::numeric_limits<int64_t>::max()) return cat("a whole number >= ", lo);
    return cat("a whole number from ", lo, " to ", hi);
  };
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(value.c_str(), &end, 10);
  HELIX_CHECK(!value.empty() && end == value.c_str() + value.size() && errno == 0, what, " expects ", range(),
              ", got '", value, "'");
  HELIX_CHECK(x >= lo && x <= hi, what, " must be ", range(), ", got ", x);
  return x;
}

}  // namespace

int64_t int_flag(const std::string& flag, const std::string& value, int64_t lo, int64_t hi) {
  return checked_int("option " + flag, value, lo, hi);
}

double float_flag(const std::string& flag, const std::string& value, double lo, double hi, bool lo_exclusive) {
  auto range = [&] {
    const char* op = lo_exclusive ? " > " : " >= ";
    if (std::isinf(lo) && std::isinf(hi)) return std::string("a finite number");
    if (std::isinf(hi)) return cat("a number", op, lo);
    return cat("a number from ", lo, lo_exclusive ? " (exclusive)" : "", " to ", hi);
  };
  char* end = nullptr;
  const double x = std::strtod(value.c_str(), &end);
  HELIX_CHECK(!value.empty() && end == value.c_str() + value.size(), "option ", flag, " expects ", range(),
              ", got '", value, "'");
  HELIX_CHECK(std::isfinite(x) && (lo_exclusive ? x > lo : x >= lo) && x <= hi, "option ", flag, " must be ",
              range(), ", got ", value);
  return x;
}

int threads_from_env() {
  const char* s = std::getenv("HELIX_THREADS");
  if (!s) return 0;
  return static_cast<int>(checked_int("environment variable HELIX_THREADS", s, 1, kMaxThreads));
}

bool parse_gen_options(int argc, char** argv, GenOptions& o, const char* usage) {
  auto& s = o.gen.sampling;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      HELIX_CHECK(i + 1 < argc, "option ", a, " needs a value (see --help)");
      return argv[++i];
    };
    auto as_int = [&](int64_t lo, int64_t hi) { return int_flag(a, val(), lo, hi); };
    auto as_float = [&](double lo, double hi, bool lo_exclusive = false) {
      return static_cast<float>(float_flag(a, val(), lo, hi, lo_exclusive));
    };
    constexpr double kInf = std::numeric_limits<double>::infinity();
    constexpr int64_t kI32 = std::numeric_limits<int32_t>::max();
    if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      return false;
    } else if (a == "-m" || a == "--model") o.model = val();
    else if (a == "-p" || a == "--prompt") o.prompt = val();
    else if (a == "-f" || a == "--file") o.prompt_file = val();
    else if (a == "-s" || a == "--system") o.system = val();
    else if (a == "-n" || a == "--n-predict") o.n_predict = as_int(-1, kI32);  // -1: no limit
    else if (a == "-c" || a == "--ctx-size") o.n_ctx = as_int(16, kMaxCtx);
    else if (a == "-b" || a == "--batch-size") o.n_batch = as_int(1, kMaxCtx);
    else if (a == "-t" || a == "--threads") o.threads = static_cast<int>(as_int(1, kMaxThreads));
    else if (a == "--temp") s.temperature = as_float(0, kInf);            // 0: greedy
    else if (a == "--top-k") s.top_k = static_cast<int32_t>(as_int(0, kI32));  // 0: off
    else if (a == "--top-p") s.top_p = as_float(0, 1);                    // 1: off
    else if (a == "--min-p") s.min_p = as_float(0, 1);                    // 0: off
    else if (a == "--repeat-penalty") s.repeat_penalty = as_float(0, kInf, true);  // 1: off
    else if (a == "--repeat-last-n") s.repeat_last_n = static_cast<int32_t>(as_int(-1, kI32));  // -1: all
    else if (a == "--presence-penalty") s.presence_penalty = as_float(-kInf, kInf);
    else if (a == "--frequency-penalty") s.frequency_penalty = as_float(-kInf, kInf);
    else if (a == "--logit-bias" || a == "-l") add_logit_bias(s, val());
    else if (a == "--seed") {
      const int64_t seed = as_int(-1, std::numeric_limits<int64_t>::max());  // -1: random, as in llama.cpp
      s.seed = seed >= 0 ? static_cast<uint64_t>(seed) : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
    }
    else if (a == "--stop") o.gen.stop.push_back(val());
    else if (a == "--profile") o.profile = true;
    else if (a == "--no-bos") o.no_bos = true;
    else if (a == "--chat") o.chat = true;
    else if (a == "--chat-template") o.chat_template = load_chat_template(val()), o.chat = true;
    else if (a == "--lora") o.lora.push_back(val());  // LoRA adapters (cli/lora_flags.h)
    else if (a == "--json") o.grammar = grammar::Grammar::any_object();
    else if (a == "--json-schema") {
      const std::string path = val();
      try {
        o.grammar = grammar::Grammar::from_json_schema_text(read_text_file("JSON schema", path));
      } catch (const grammar::SchemaError& e) {
        throw Error(cat(path, ": ", e.what()));
      }
    }
    else if (!a.empty() && a[0] == '-' && a.size() > 1) throw Error(cat("unknown option '", a, "' (see --help)"));
    else o.rest.push_back(a);
  }
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
  HELIX_CHECK(l.tokenizer->type() != tok::VocabType::kNone, l.path,
              ": this model has no vocabulary (tokenizer.ggml.model = none): it cannot read or write text; "
              "run it by token ids (e.g. helix logits --tokens)");
  l.model = std::shared_ptr<model::Model>(model::load_model(file));
  l.adapter_chat_template = apply_default_loras(o.lora, *l.model, o.named_lora);
  l.load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& hp = l.model->hparams();
  for (const auto& [id, bias] : o.gen.sampling.logit_bias)
    HELIX_CHECK(id < hp.n_vocab, "option --logit-bias names token ", id, " but the vocabulary has ", hp.n_vocab,
                " tokens (0 to ", hp.n_vocab - 1, ")");
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

std::string chat_template_of(const GenOptions& o, const Loaded& l) {
  if (!o.chat_template.empty()) return o.chat_template;
  if (!l.adapter_chat_template.empty()) return l.adapter_chat_template;
  return runtime::chat_template_for(l.model->file());
}

std::vector<int32_t> encode_chat(const std::string& tmpl, const nlohmann::ordered_json& messages,
                                 const tok::Tokenizer& tok) {
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
  const std::string text = chat::render_chat(tmpl, messages, nullptr, true, bos, eos);
  const bool has_bos = !bos.empty() && text.rfind(bos, 0) == 0;
  return tok.encode(text, !has_bos, true);
}

}  // namespace helix::cli

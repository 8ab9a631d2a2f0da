// Preference training (src/train/prefs.h): one DPO / IPO / mixed (DPO + SFT + KL) step's loss and
// every LoRA gradient against PyTorch autograd in float64 (tests/python/make_train_reference.py,
// make_dpo: two pairs packed in one batch, the base as the reference); the pair loss formulas
// against finite differences; the packing of a pair into two samples; the reference cache on disk;
// and the recipe keys of preference stages.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "io/gguf.h"
#include "train/model.h"
#include "train/prefs.h"
#include "train/recipe.h"
#include "train_data_util.h"
#include "train_test_util.h"

namespace helix::train {
namespace {

// The reference's pairs as Samples: prompt + chosen, then prompt + rejected, loss on the answers.
std::vector<Sample> stored_pairs(const gguf::GGUFFile& ref) {
  std::vector<Sample> out;
  for (int i = 0; ref.find_tensor(cat("pair", i, ".prompt")); ++i) {
    const auto prompt = values<int32_t>(ref, cat("pair", i, ".prompt"));
    Sample s;
    for (const char* half : {"chosen", "rejected"}) {
      const auto ans = values<int32_t>(ref, cat("pair", i, ".", half));
      if (s.split == 0 && !s.tokens.empty()) s.split = static_cast<int64_t>(s.tokens.size());
      s.tokens.insert(s.tokens.end(), prompt.begin(), prompt.end());
      s.loss.insert(s.loss.end(), prompt.size(), 0);
      s.tokens.insert(s.tokens.end(), ans.begin(), ans.end());
      s.loss.insert(s.loss.end(), ans.size(), 1);
    }
    s.line = i + 1;
    out.push_back(s);
  }
  return out;
}

PrefSettings settings_from(const gguf::GGUFFile& ref, const std::string& c) {
  PrefSettings s;
  s.beta = ref.get_float("ref.beta", 0);
  s.rm_tau = ref.get_float("ref.rm_tau", 1);
  s.label_smoothing = ref.get_float("ref." + c + ".label_smoothing", 0);
  s.reference = "base";
  std::string list = ref.get_string("ref." + c + ".losses", "");
  for (size_t at = 0; at < list.size();) {
    size_t end = list.find(',', at);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(at, end - at);
    const size_t eq = item.find('=');
    LossTerm t;
    t.name = item.substr(0, eq);
    t.weight = t.weight_end = std::stod(item.substr(eq + 1));
    s.losses.push_back(t);
    at = end + 1;
  }
  return s;
}

struct DpoCase {
  std::string arch, kind;
};
class DpoReference : public ::testing::TestWithParam<DpoCase> {};

TEST_P(DpoReference, StepMatchesPyTorch) {
  const DpoCase c = GetParam();
  const std::string name = "dpo_" + c.arch + ".gguf";
  const gguf::GGUFFile ref = gguf::GGUFFile::open(kRefDir + name);
  const std::string model_path = write_model(ref, name);
  ASSERT_EQ(fnv1a64(model_path), ref.get_string("ref.model_fnv1a64", ""));
  TrainOptions opt;
  opt.lora_rank = static_cast<int64_t>(ref.get_uint("ref.lora_rank", 0));
  opt.lora_alpha = static_cast<float>(ref.get_float("ref.lora_alpha", 0));
  opt.head_chunk = 5;
  TrainModel m(model_path, opt);
  for (Param* p : m.trainable()) p->value = values<float>(ref, "init." + p->name);
  const std::vector<Sample> pairs = stored_pairs(ref);
  const PrefSettings s = settings_from(ref, c.kind);
  // The rm term's scores: the reference's fixed (chosen, rejected) scores, asked for in pair order.
  const std::vector<float> rm_scores = values<float>(ref, "rm.scores");
  PairScorer scorer{[&](const TrainBatch&, const std::vector<int64_t>& pos) {
                      EXPECT_EQ(pos.size(), rm_scores.size());
                      return rm_scores;
                    },
                    "fixed"};
  PrefObjective obj(m, s, {&pairs}, nullptr, "", 1024, scorer);
  std::vector<const Sample*> ptrs;
  for (const Sample& p : pairs) ptrs.push_back(&p);
  m.zero_grad();
  nlohmann::ordered_json entry;
  const double loss = obj.accumulate(m, {make_batch(ptrs)}, {ptrs}, 0, 1, entry);
  EXPECT_NEAR(loss, ref.get_float("ref." + c.kind + ".loss", 0), 1e-4) << entry.dump();
  for (auto& [term, v] : entry["losses"].items())
    EXPECT_NEAR(v.get<double>(), ref.get_float("ref." + c.kind + ".term." + term, -1), 1e-4) << term;
  int checked = 0;
  const double worst = check_grads(m, ref, "grad." + c.kind + ".", 1e-3, &checked);
  EXPECT_EQ(checked, 2 * 7 * m.hparams().n_layer);  // A and B of seven projections per layer
  std::printf("%s %s: worst relative gradient error %.2e\n", c.arch.c_str(), c.kind.c_str(), worst);
  std::filesystem::remove(model_path);
}

INSTANTIATE_TEST_SUITE_P(Terms, DpoReference,
                         ::testing::Values(DpoCase{"llama", "dpo"}, DpoCase{"llama", "ipo"}, DpoCase{"llama", "mix"},
                                           DpoCase{"llama", "rm"}, DpoCase{"llama", "rmmix"}, DpoCase{"gemma3", "dpo"},
                                           DpoCase{"gemma3", "ipo"}, DpoCase{"gemma3", "mix"}, DpoCase{"gemma3", "rm"},
                                           DpoCase{"gemma3", "rmmix"}),
                         [](const auto& info) { return info.param.arch + "_" + info.param.kind; });

// d loss / d log π(chosen|rejected) of each pair loss against central differences.
TEST(PrefLoss, DerivativesMatchFiniteDifferences) {
  PairLogps p{-12.5, -14.0, -13.0, -13.2, 5, 7};
  for (int kind = 0; kind < 3; ++kind) {
    auto f = [&](const PairLogps& q) {
      return kind == 0 ? dpo_term(q, 0.3, 0) : kind == 1 ? dpo_term(q, 0.3, 0.2) : ipo_term(q, 0.3);
    };
    const PairTerm t = f(p);
    const double h = 1e-5;
    PairLogps a = p, b = p;
    a.chosen += h, b.chosen -= h;
    EXPECT_NEAR(t.d_chosen, (f(a).loss - f(b).loss) / (2 * h), 1e-6) << kind;
    a = p, b = p;
    a.rejected += h, b.rejected -= h;
    EXPECT_NEAR(t.d_rejected, (f(a).loss - f(b).loss) / (2 * h), 1e-6) << kind;
  }
  // At the reference (h = 0) plain DPO is log 2 and IPO is (1/(2β))².
  PairLogps z{-3, -4, -3, -4, 2, 2};
  EXPECT_NEAR(dpo_term(z, 0.1, 0).loss, std::log(2.0), 1e-12);
  EXPECT_NEAR(ipo_term(z, 0.1).loss, 25.0, 1e-12);
}

// A pair is packed as two samples: positions restart, attention starts anew, targets stay in their half.
TEST(PrefBatch, PairPacksAsTwoSamples) {
  Sample s;
  s.tokens = {5, 6, 7, 8, 5, 6, 9};
  s.loss = {0, 0, 1, 1, 0, 0, 1};
  s.split = 4;
  Sample plain;
  plain.tokens = {1, 2, 3};
  plain.loss = {0, 1, 1};
  const TrainBatch b = make_batch({&plain, &s});
  EXPECT_EQ(b.pos, (std::vector<int32_t>{0, 1, 2, 0, 1, 2, 3, 0, 1, 2}));
  EXPECT_EQ(b.start, (std::vector<int32_t>{0, 0, 0, 3, 3, 3, 3, 7, 7, 7}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{2, 3, -1, -1, 7, 8, -1, -1, 9, -1}));
}

// The reference log-probabilities survive on disk: a second objective reads them instead of
// recomputing (its model holds other values, so recomputed ones would differ), and a cache made
// for another reference is ignored.
TEST(PrefCache, ReferenceLogProbsRoundTrip) {
  const gguf::GGUFFile ref = gguf::GGUFFile::open(kRefDir + "dpo_llama.gguf");
  const std::string model_path = write_model(ref, "dpo_cache_llama.gguf");
  TrainOptions opt;
  opt.lora_rank = static_cast<int64_t>(ref.get_uint("ref.lora_rank", 0));
  opt.lora_alpha = static_cast<float>(ref.get_float("ref.lora_alpha", 0));
  TrainModel m(model_path, opt);
  for (Param* p : m.trainable()) p->value = values<float>(ref, "init." + p->name);
  const std::vector<Sample> pairs = stored_pairs(ref);
  std::vector<const Sample*> ptrs;
  for (const Sample& p : pairs) ptrs.push_back(&p);
  PrefSettings s = settings_from(ref, "dpo");
  s.reference = "start";
  s.losses.push_back(LossTerm{"rm", 0.0, 0.0});  // the rm term's scores are cached with the reference's
  int scored = 0;
  auto scorer = [&](const std::string& fp) {
    return PairScorer{[&](const TrainBatch&, const std::vector<int64_t>& pos) {
                        ++scored;
                        return std::vector<float>(pos.size(), 0.5f);
                      },
                      fp};
  };
  const std::string cache = (std::filesystem::temp_directory_path() / cat("helix_dpo_cache_", getpid(), ".gguf")).string();
  std::filesystem::remove(cache);
  nlohmann::ordered_json e1, e3;
  {
    PrefObjective a(m, s, {&pairs}, nullptr, cache, 1024, scorer("rm-1"));
    m.zero_grad();
    a.accumulate(m, {make_batch(ptrs)}, {ptrs}, 0, 1, e1);
    EXPECT_EQ(a.cached(), 2);
    EXPECT_EQ(a.rm_cached(), 2);
    EXPECT_EQ(scored, 1);
    a.save();
  }
  EXPECT_EQ(PrefObjective(m, s, {&pairs}, nullptr, cache, 1024, scorer("rm-1")).rm_cached(), 2);
  EXPECT_EQ(PrefObjective(m, s, {&pairs}, nullptr, cache, 1024, scorer("rm-2")).rm_cached(), 0)
      << "the scores of another reward model must be ignored";
  EXPECT_THROW(PrefObjective(m, s, {&pairs}, nullptr, cache), Error) << "the rm term needs a scorer";
  ASSERT_TRUE(std::filesystem::exists(cache));
  EXPECT_NEAR(e1["losses"]["dpo"].get<double>(), std::log(2.0), 1e-5);  // policy = reference: h = 0
  const auto saved = m.trainable()[0]->value;
  for (float& v : m.trainable()[0]->value) v *= 1.5f;  // the model moves on
  s.losses.pop_back();
  PrefObjective b(m, s, {&pairs}, nullptr, "");  // no cache: its reference is the moved model
  PrefObjective c(m, s, {&pairs}, nullptr, cache);
  EXPECT_EQ(b.cached(), 0);
  EXPECT_EQ(c.cached(), 0) << "the cache of another reference must be ignored";
  m.trainable()[0]->value = saved;
  PrefObjective d(m, s, {&pairs}, nullptr, cache);
  EXPECT_EQ(d.cached(), 2);
  m.zero_grad();
  d.accumulate(m, {make_batch(ptrs)}, {ptrs}, 0, 1, e3);
  EXPECT_DOUBLE_EQ(e3["losses"]["dpo"].get<double>(), e1["losses"]["dpo"].get<double>());
  std::filesystem::remove(cache);
  std::filesystem::remove(model_path);
}

// The three record forms render the same pair: prompt text, prompt messages with answer messages,
// and whole conversations (TRL's implicit prompt); the loss sits on the final answer only.
TEST(PrefData, RecordFormsRenderOnePair) {
  auto tok = test_util::vocab_with("llama-spm", {"<bos>", "<start_of_turn>", "<end_of_turn>"}, "<bos>", false);
  std::ifstream in(std::string(HELIX_SOURCE_DIR) + "/recipes/assistant/chat_template.jinja");
  const std::string tmpl((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SampleRenderer r(*tok, tmpl);
  using ojson = nlohmann::ordered_json;
  const Sample a = render_pair(r, ojson::parse(R"({"prompt": "2+3?", "chosen": "5", "rejected": "five"})"));
  const Sample b = render_pair(r, ojson::parse(R"({"messages": [{"role": "user", "content": "2+3?"}],
      "chosen": [{"role": "assistant", "content": "5"}], "rejected": {"role": "assistant", "content": "five"}})"));
  const Sample c = render_pair(r, ojson::parse(R"({
      "chosen": [{"role": "user", "content": "2+3?"}, {"role": "assistant", "content": "5"}],
      "rejected": [{"role": "user", "content": "2+3?"}, {"role": "assistant", "content": "five"}]})"));
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.tokens, c.tokens);
  EXPECT_EQ(a.loss, b.loss);
  ASSERT_GT(a.split, 0);
  std::string chosen, rejected;
  for (size_t i = 0; i < a.tokens.size(); ++i)
    if (a.loss[i]) (static_cast<int64_t>(i) < a.split ? chosen : rejected) += tok->token_to_piece(a.tokens[i], true);
  EXPECT_EQ(chosen, "5<end_of_turn>");
  EXPECT_EQ(rejected, "five<end_of_turn>");
  // A multi-turn prompt: the earlier assistant turn carries no loss.
  const Sample d = render_pair(r, ojson::parse(R"({"messages": [{"role": "user", "content": "hi"},
      {"role": "assistant", "content": "hello"}, {"role": "user", "content": "2+3?"}], "chosen": "5", "rejected": "6"})"));
  int64_t n = 0;
  for (uint8_t l : d.loss) n += l;
  EXPECT_EQ(n, 4);  // "5", "6" and two end-of-turn tokens
  for (const char* bad : {R"({"prompt": "q", "chosen": "a"})", R"({"prompt": "q", "chosen": "a", "rejected": "a"})",
                          R"({"chosen": "a", "rejected": "b"})", R"({"prompt": "q", "chosen": "", "rejected": "b"})",
                          R"({"prompt": "q", "chosen": [{"role": "user", "content": "x"}], "rejected": "b"})"})
    EXPECT_THROW(render_pair(r, ojson::parse(bad)), BadData) << bad;
}

TEST(PrefRecipe, StageKeys) {
  const Recipe r = parse_recipe(R"(
adapter = "start.gguf"
[[stages]]
steps = 10
losses = ["dpo", { name = "sft", weight = 0.5, weight_end = 0.0 }, { name = "kl", weight = 0.1, schedule = "cosine" }]
dpo = { beta = 0.2, label_smoothing = 0.1, reference = "base", heldout = "p.eval.jsonl", heldout_max = 9 }
[[stages.datasets]]
path = "p.jsonl"
[[stages]]
steps = 5
[[stages.datasets]]
path = "s.jsonl"
)",
                                "/r/x.toml");
  EXPECT_EQ(r.adapter, "/r/start.gguf");
  const Stage& s = r.stages[0];
  EXPECT_EQ(s.type, "dpo");
  EXPECT_DOUBLE_EQ(s.pref.beta, 0.2);
  EXPECT_EQ(s.pref.reference, "base");
  EXPECT_EQ(s.pref.heldout, "/r/p.eval.jsonl");
  ASSERT_EQ(s.pref.losses.size(), 3u);
  EXPECT_DOUBLE_EQ(s.pref.losses[1].at(0, 11), 0.5);
  EXPECT_DOUBLE_EQ(s.pref.losses[1].at(5, 11), 0.25);
  EXPECT_DOUBLE_EQ(s.pref.losses[1].at(10, 11), 0.0);
  EXPECT_DOUBLE_EQ(s.pref.losses[2].at(7, 11), 0.1);  // cosine from 0.1 to 0.1
  EXPECT_EQ(r.stages[1].type, "sft") << "type does not carry over";
  EXPECT_TRUE(r.stages[1].pref.losses.empty());
  auto err = [](const std::string& stage) {
    try {
      parse_recipe("[[stages]]\nsteps = 1\n" + stage + "\n[[stages.datasets]]\npath = \"p.jsonl\"\n", "/r/y.toml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(err("losses = [\"dpx\"]").find("unknown loss 'dpx'"), std::string::npos);
  EXPECT_NE(err("losses = [\"dpo\", \"dpo\"]").find("listed twice"), std::string::npos);
  EXPECT_NE(err("type = \"sft\"\ndpo = { beta = 0.1 }").find("type = \"dpo\""), std::string::npos);
  EXPECT_NE(err("type = \"dpo\"\ndpo = { reference = \"other\" }").find("'other' is not one of"), std::string::npos);
  EXPECT_NE(err("type = \"dpo\"\nmode = \"full\"").find("LoRA"), std::string::npos);
  EXPECT_NE(err("type = \"dpo\"\ndpo = { beta = 0 }").find("beta"), std::string::npos);
  // The rm term: its reward model, heads and temperature; each key needs the other.
  const Recipe q = parse_recipe(
      "[[stages]]\nsteps = 1\nlosses = [\"dpo\", { name = \"rm\", weight = 0.5 }]\nrm = \"rm.gguf\"\n"
      "rm_aspects = { format = 1.0, politeness = 0.5 }\nrm_tau = 2.0\n[[stages.datasets]]\npath = \"p.jsonl\"\n",
      "/r/z.toml");
  EXPECT_EQ(q.stages[0].pref.rm, "/r/rm.gguf");
  EXPECT_DOUBLE_EQ(q.stages[0].pref.rm_tau, 2.0);
  EXPECT_DOUBLE_EQ(q.stages[0].pref.rm_aspects.at("politeness"), 0.5);
  EXPECT_NE(err("losses = [\"rm\"]").find("rm = \"RM.gguf\""), std::string::npos);
  EXPECT_NE(err("losses = [\"dpo\"]\nrm = \"x.gguf\"").find("no \"rm\" term"), std::string::npos);
  EXPECT_NE(err("rm = \"x.gguf\"").find("preference stage"), std::string::npos);
  EXPECT_NE(err("losses = [\"rm\"]\nrm = \"x.gguf\"\nrm_aspects = { format = -1 }").find("weight >= 0"), std::string::npos);
}

// The rm term's pair weights: σ((s_c − s_r)/τ), summing to 1; equal scores weigh both halves alike.
TEST(PrefLoss, RmPairWeights) {
  const auto [qc, qr] = rm_pair_weights(2.0, 0.0, 0.5);
  EXPECT_NEAR(qc, 1 / (1 + std::exp(-4.0)), 1e-12);
  EXPECT_NEAR(qc + qr, 1.0, 1e-12);
  EXPECT_NEAR(rm_pair_weights(3.0, 3.0, 1.0).first, 0.5, 1e-12);
  EXPECT_LT(rm_pair_weights(-1.0, 1.0, 1.0).first, 0.5);
}

// The shipped DPO recipes read, and every file they name exists.
TEST(PrefRecipe, ShippedRecipesLoad) {
  for (const char* name : {"dpo.toml", "dpo_rm_set.toml", "dpo_rm_guided.toml"}) {
    SCOPED_TRACE(name);
    const Recipe r = load_recipe(std::string(HELIX_SOURCE_DIR) + "/recipes/prefs/" + name);
    EXPECT_EQ(r.adapter, "assistant");
    ASSERT_EQ(r.stages.size(), 1u);
    EXPECT_EQ(r.stages[0].type, "dpo");
    std::vector<std::string> paths = {r.stages[0].pref.heldout, r.chat_template};
    for (const auto& d : r.stages[0].datasets) paths.push_back(d.path);
    for (const auto& e : r.evals) paths.push_back(e.path);
    for (const auto& p : paths) EXPECT_TRUE(std::filesystem::exists(p)) << p;
  }
}

}  // namespace
}  // namespace helix::train

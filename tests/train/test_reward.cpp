// Reward models (src/train/reward*.h): one step's loss and every gradient (heads and LoRA factors)
// against PyTorch autograd in float64 (tests/python/make_rm_reference.py wrote the references with
// torch 1.13), a saved model that loads back with identical scores, training that separates an
// easy pair set, and recipe errors that name the key.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "io/gguf.h"
#include "tokenizer/tokenizer.h"
#include "train/optim.h"
#include "train/reward.h"
#include "train/reward_data.h"
#include "train_test_util.h"

namespace helix::train {
namespace {

const std::string kRmRefDir = std::string(HELIX_SOURCE_DIR) + "/tests/python/data/rm_ref/";

struct RefCase {
  gguf::GGUFFile ref;
  std::string model_path;
  std::unique_ptr<RewardModel> m;
  TrainBatch b;
  RmTerms terms;
};

// The reference's model (LoRA factors and heads at their initial values), batch and terms.
RefCase load_case(const std::string& arch) {
  RefCase c{gguf::GGUFFile::open(kRmRefDir + arch + ".gguf"), "", nullptr, {}, {}};
  const gguf::GGUFFile& ref = c.ref;
  c.model_path = write_model(ref, "rm_" + arch + ".gguf");
  EXPECT_EQ(fnv1a64(c.model_path), ref.get_string("ref.model_fnv1a64", ""))
      << "the tiny model differs from the reference's; rerun tests/python/make_rm_reference.py";
  TrainOptions opt;
  opt.lora_rank = static_cast<int64_t>(ref.get_uint("ref.lora_rank", 0));
  opt.lora_alpha = static_cast<float>(ref.get_float("ref.lora_alpha", 0));
  auto tm = std::make_unique<TrainModel>(c.model_path, opt);
  for (Param* p : tm->trainable()) p->value = values<float>(ref, "init." + p->name);
  const auto names = ref.get("ref.heads").as_string_array();
  const auto levels = ref.get("ref.levels").as_string_array();
  std::vector<std::pair<std::string, RmLevel>> heads;
  for (size_t i = 0; i < names.size(); ++i) heads.emplace_back(names[i], rm_level_from_name(levels[i]));
  c.m = std::make_unique<RewardModel>(std::move(tm), heads, 0);
  for (Param* p : c.m->head_params()) p->value = values<float>(ref, "init." + p->name);
  c.b.tokens = values<int32_t>(ref, "batch.tokens");
  c.b.pos = values<int32_t>(ref, "batch.pos");
  c.b.start = values<int32_t>(ref, "batch.start");
  c.b.targets.assign(c.b.tokens.size(), -1);
  const auto pairs = values<int32_t>(ref, "terms.pairs");
  const auto pw = values<float>(ref, "terms.pair_w");
  for (size_t i = 0; i < pw.size(); ++i) c.terms.pairs.push_back({pairs[3 * i], pairs[3 * i + 1], pairs[3 * i + 2], pw[i]});
  const auto steps = values<int32_t>(ref, "terms.steps");
  const auto lab = values<float>(ref, "terms.step_label");
  const auto sw = values<float>(ref, "terms.step_w");
  for (size_t i = 0; i < sw.size(); ++i) c.terms.steps.push_back({steps[2 * i], steps[2 * i + 1], lab[i], sw[i]});
  c.terms.margin = static_cast<float>(ref.get_float("ref.margin", 0));
  return c;
}

std::vector<Param*> all_params(RewardModel& m) {
  std::vector<Param*> out = m.base().trainable();
  for (Param* p : m.head_params()) out.push_back(p);
  return out;
}

class RewardReference : public ::testing::TestWithParam<std::string> {};

TEST_P(RewardReference, LossAndGradientsMatchPyTorch) {
  RefCase c = load_case(GetParam());
  const RmLoss loss = c.m->forward_backward(c.b, c.terms, 1.0f, true);
  EXPECT_NEAR(loss.total(), c.ref.get_float("ref.loss", 0), 1e-5) << "loss";
  EXPECT_EQ(loss.n_pairs, 2);
  EXPECT_EQ(loss.n_steps, 3);
  int checked = 0, heads = 0;
  double worst = 0;
  for (Param* p : all_params(*c.m)) {
    const auto want = values<float>(c.ref, "grad." + p->name);
    ASSERT_EQ(want.size(), p->grad.size()) << p->name;
    double mx = 1e-30, err = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      mx = std::max(mx, static_cast<double>(std::abs(want[i])));
      err = std::max(err, static_cast<double>(std::abs(p->grad[i] - want[i])));
    }
    ++checked;
    heads += p->name.rfind("rm.head.", 0) == 0;
    if (mx <= 1e-12) {
      // Only a response-level head's bias: the Bradley–Terry loss sees r_chosen − r_rejected.
      EXPECT_TRUE(p->name == "rm.head.helpful.bias" || p->name == "rm.head.format.bias") << p->name << " has no gradient";
      EXPECT_LE(err, 1e-6) << p->name;
      continue;
    }
    worst = std::max(worst, err / mx);
    EXPECT_LE(err, 1e-3 * mx) << p->name << ": max error " << err << ", max |grad| " << mx;
  }
  EXPECT_EQ(heads, 6);
  EXPECT_GT(checked, heads);  // LoRA factors too
  std::printf("%s: %d parameters, worst relative error %.2e\n", GetParam().c_str(), checked, worst);
  std::filesystem::remove(c.model_path);
}

INSTANTIATE_TEST_SUITE_P(Archs, RewardReference, ::testing::Values("llama", "gemma3"));

// An aspect with shapes_base = false trains its head only: with every head so, the LoRA factors get
// no gradient and the heads get the reference's (a head's gradient does not depend on the base's).
TEST(RewardModel, HeadsThatDoNotShapeTheBaseLeaveItsGradientZero) {
  RefCase c = load_case("llama");
  for (RmHead& h : c.m->heads()) h.shapes_base = false;
  c.m->forward_backward(c.b, c.terms, 1.0f, true);
  int heads = 0;
  for (Param* p : all_params(*c.m)) {
    if (p->name.rfind("rm.head.", 0) != 0) {
      for (float g : p->grad) ASSERT_EQ(g, 0.0f) << p->name;
      continue;
    }
    ++heads;
    const auto want = values<float>(c.ref, "grad." + p->name);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(p->grad[i], want[i], 1e-3 * (1e-6 + std::abs(want[i]))) << p->name;
  }
  EXPECT_EQ(heads, 6);
  std::filesystem::remove(c.model_path);
}

// A few AdamW steps, save, load: the loaded model scores every position exactly as the trained one.
TEST(RewardModel, SavedModelLoadsWithIdenticalScores) {
  RefCase c = load_case("llama");
  std::vector<Param*> params = all_params(*c.m);
  AdamW opt(params, {1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f});
  double first = 0, last = 0;
  for (int s = 0; s < 8; ++s) {
    c.m->base().zero_grad();
    for (Param* p : c.m->head_params()) std::fill(p->grad.begin(), p->grad.end(), 0.0f);
    const double l = c.m->forward_backward(c.b, c.terms, 1.0f, true).total();
    (s == 0 ? first : last) = l;
    opt.step(1e-2f);
  }
  EXPECT_LT(last, first) << "the loss falls on its own batch";
  std::vector<int64_t> pos;
  for (int64_t t = 0; t < c.b.size(); ++t) pos.push_back(t);
  const std::vector<float> want = c.m->scores(c.b, pos);
  const std::string path = (std::filesystem::temp_directory_path() / "helix_rm_roundtrip.gguf").string();
  RmFileInfo info;
  info.name = "roundtrip";
  info.base_model = c.model_path;
  info.step_separator = " | ";
  info.has_adapter = true;
  save_reward_model(*c.m, info, path);
  RmFileInfo back;
  auto m2 = load_reward_model(path, "", false, &back);
  EXPECT_EQ(back.step_separator, " | ");
  EXPECT_TRUE(back.has_adapter);
  ASSERT_EQ(m2->heads().size(), 3u);
  EXPECT_EQ(m2->heads()[2].level, RmLevel::Step);
  const std::vector<float> got = m2->scores(c.b, pos);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "score " << i;
  // Without the adapter the scores differ: the factors are part of the file.
  info.has_adapter = false;
  save_reward_model(*c.m, info, path);
  auto m3 = load_reward_model(path, "", false, nullptr);
  EXPECT_NE(m3->scores(c.b, pos), want);
  std::filesystem::remove(path);
  std::filesystem::remove(c.model_path);
}

TEST(RewardModel, RefusesFilesThatAreNotRewardModels) {
  const gguf::GGUFFile ref = gguf::GGUFFile::open(kRmRefDir + "llama.gguf");
  const std::string model = write_model(ref, "rm_notrm.gguf");
  try {
    load_reward_model(model, "", false, nullptr);
    FAIL() << "loaded a plain model as a reward model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a reward model"), std::string::npos) << e.what();
  }
  std::filesystem::remove(model);
}

TEST(RewardRecipe, ReadsAspectsAndNamesBadKeys) {
  const RmRecipe r = parse_rm_recipe(
      "name = \"t\"\nsteps = 5\nlr = 1e-4\nlora = { rank = 4, targets = [\"attn_q\"] }\n"
      "[[aspects]]\nname = \"format\"\ntrain = \"f.jsonl\"\neval = \"f.eval.jsonl\"\n"
      "[[aspects]]\nname = \"math\"\nlevel = \"step\"\ntrain = \"m.jsonl\"\nweight = 2\n",
      "dir/rm.toml");
  ASSERT_EQ(r.aspects.size(), 2u);
  EXPECT_EQ(r.aspects[0].train, "dir/f.jsonl");
  EXPECT_EQ(r.aspects[1].level, RmLevel::Step);
  EXPECT_EQ(r.aspects[1].weight, 2.0);
  EXPECT_TRUE(r.new_lora);
  EXPECT_EQ(r.lora.alpha, 8.0);
  EXPECT_EQ(r.batch_by, "example");
  EXPECT_EQ(parse_rm_recipe("batch_by = \"aspect\"\n[[aspects]]\nname = \"a\"\ntrain = \"x\"\n", "rm.toml").batch_by, "aspect");
  auto error_of = [](const std::string& text) {
    try {
      parse_rm_recipe(text, "rm.toml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of("stepz = 3\n[[aspects]]\nname = \"a\"\ntrain = \"x\"\n").find("rm.toml:1: stepz: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("steps = 3\n").find("aspects: missing"), std::string::npos);
  EXPECT_NE(error_of("[[aspects]]\nname = \"a\"\nlevel = \"token\"\ntrain = \"x\"\n").find("'token' is not one of"),
            std::string::npos);
  EXPECT_NE(error_of("adapter = \"a.gguf\"\nlora = { rank = 2 }\n[[aspects]]\nname = \"a\"\ntrain = \"x\"\n")
                .find("either adapter"),
            std::string::npos);
}

// The shipped recipe reads, and every file it names exists.
TEST(RewardRecipe, ShippedPrefsRecipeLoads) {
  const RmRecipe r = load_rm_recipe(std::string(HELIX_SOURCE_DIR) + "/recipes/prefs/rm.toml");
  EXPECT_EQ(r.adapter, "assistant");
  ASSERT_EQ(r.aspects.size(), 4u);
  EXPECT_EQ(r.aspects[3].level, RmLevel::Step);
  for (const RmAspect& a : r.aspects) {
    EXPECT_TRUE(std::filesystem::exists(a.train)) << a.train;
    EXPECT_TRUE(std::filesystem::exists(a.eval)) << a.eval;
  }
}

// Step scores sit on each step's last token, whether the steps come as a list or split from
// "response" at the separator; bad records say what is wrong.
TEST(RewardData, StepScoresSitOnEachStepsLastToken) {
  model::TinySpec spec;
  spec.arch = "llama";
  const std::string path = (std::filesystem::temp_directory_path() / "helix_rm_tok.gguf").string();
  model::write_tiny_model(spec, path);
  const gguf::GGUFFile f = gguf::GGUFFile::open(path);
  const auto tok = tok::Tokenizer::from_gguf(f);
  const SampleRenderer sr(*tok, chat_template_for_training(f, ""));
  const RmRenderer rr(sr, "\n");
  const std::vector<std::string> steps = {"2 + 3 = 5", "5 * 4 = 21", "21 - 1 = 20"};
  const nlohmann::ordered_json rec = {{"prompt", "Work it out"}, {"steps", steps}, {"labels", {1, 0, 1}}};
  const RmExample ex = rm_example(rec, RmLevel::Step, 0, "math", rr);
  ASSERT_EQ(ex.a.score_pos.size(), 3u);
  EXPECT_EQ(ex.labels, (std::vector<float>{1, 0, 1}));
  for (size_t k = 0; k < steps.size(); ++k) {
    const std::vector<int32_t> upto(ex.a.tokens.begin(), ex.a.tokens.begin() + ex.a.score_pos[k] + 1);
    std::string text = tok->decode(upto);
    for (size_t i; (i = text.find("\xE2\x96\x81")) != std::string::npos;) text.replace(i, 3, " ");  // byte-spelt ▁
    EXPECT_EQ(text.substr(text.size() - steps[k].size()), steps[k]) << "step " << k << ": " << text;
  }
  EXPECT_GT(ex.a.last, ex.a.score_pos.back());  // the end of turn follows the last step
  const nlohmann::ordered_json split = {{"prompt", "Work it out"}, {"response", "2 + 3 = 5\n5 * 4 = 21\n\n21 - 1 = 20\n"},
                                        {"labels", {1, 0, 1}}, {"aspect", "math"}};
  EXPECT_EQ(rm_example(split, RmLevel::Step, 0, "math", rr).a.score_pos.size(), 3u);
  auto bad = [&](const nlohmann::ordered_json& r, RmLevel level) {
    try {
      rm_example(r, level, 0, "math", rr);
    } catch (const BadData& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(bad({{"prompt", "p"}, {"steps", steps}, {"labels", {1, 0}}}, RmLevel::Step).find("one number (0 or 1) per step"),
            std::string::npos);
  EXPECT_NE(bad({{"prompt", "p"}, {"chosen", "a"}}, RmLevel::Response).find("\"rejected\" is missing"), std::string::npos);
  EXPECT_NE(bad({{"prompt", "p"}, {"chosen", "a"}, {"rejected", "b"}, {"aspect", "tone"}}, RmLevel::Response)
                .find("this file trains 'math'"),
            std::string::npos);
  EXPECT_NE(bad({{"chosen", "a"}, {"rejected", "b"}}, RmLevel::Response).find("\"prompt\" or \"messages\""),
            std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace helix::train

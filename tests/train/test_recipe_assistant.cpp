// The shipped showcase recipes (recipes/assistant/recipe.toml and tiny.toml) parse, name data that
// exists, and every held-out record renders with the showcase template and tokenizes within its
// stage's sequence length; each reference answer scores as valid and correct under the metrics
// its eval set names (so a perfect model would score 1.0), and the data matches its generator.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <sys/wait.h>

#include "train/data.h"
#include "train/eval_metrics.h"
#include "train/recipe.h"
#include "train_data_util.h"

namespace helix::train {
namespace {

using ojson = nlohmann::ordered_json;

std::string recipe_path(const char* name) { return std::string(HELIX_SOURCE_DIR) + "/recipes/assistant/" + name; }

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TrainRecipeAssistant, RecipesParseAndNameExistingData) {
  for (const char* name : {"recipe.toml", "tiny.toml"}) {
    SCOPED_TRACE(name);
    const Recipe r = load_recipe(recipe_path(name));
    ASSERT_EQ(r.stages.size(), 3u);
    EXPECT_TRUE(std::filesystem::exists(r.chat_template));
    for (const auto& s : r.stages) {
      EXPECT_FALSE(s.full);
      EXPECT_GT(s.steps, 0);
      for (const auto& d : s.datasets) EXPECT_TRUE(std::filesystem::exists(d.path)) << d.path;
      EXPECT_FALSE(s.evals.empty());
    }
    for (const auto& e : r.evals) EXPECT_TRUE(std::filesystem::exists(e.path)) << e.path;
  }
  // The full recipe's size: ~890k token slots over 415 steps (stage 2 and 3 rows hold ~1000-token
  // grounded samples; about 50 minutes at ~300-350 tokens/s on 2 cores). Stage 2 grew from 145 to
  // 175 steps so that each of its grounded sets (real, facts, docs) is seen ~80-130 times.
  const Recipe r = load_recipe(recipe_path("recipe.toml"));
  int64_t tokens = 0;
  for (const auto& s : r.stages) tokens += s.steps * s.batch * s.grad_accum * s.seq_len;
  EXPECT_GE(tokens, 250'000);
  EXPECT_LE(tokens, 900'000);
}

TEST(TrainRecipeAssistant, EvalSetsRenderAndReferencesScorePerfectly) {
  const Recipe r = load_recipe(recipe_path("recipe.toml"));
  auto tok = test_util::vocab_with("llama-spm", {"<bos>", "<start_of_turn>", "<end_of_turn>"}, "<bos>", false);
  const SampleRenderer rend(*tok, slurp(r.chat_template));
  LoadOptions o;
  o.seq_len = 0;  // grounded_real's prompts are ~1000 Gemma tokens; this test vocabulary splits finer,
  for (const auto& s : r.stages) o.seq_len = std::max<int64_t>(o.seq_len, 2 * s.seq_len);  // hence 2x
  for (const auto& e : r.evals) {
    SCOPED_TRACE(e.name);
    const LoadResult res = load_jsonl(e.path, e.name, rend, o);  // throws on any bad line
    ASSERT_GE(res.samples.size(), 40u);
    MetricTotals t(e.metrics);
    std::ifstream in(e.path);
    std::string line;
    while (std::getline(in, line)) {
      const ojson rec = ojson::parse(line);
      std::string ref;
      const auto prompt = rend.prompt_tokens(rec, &ref);
      EXPECT_FALSE(prompt.empty());
      // The model answers in the template's format: a tool call is written as the template writes it.
      std::string answer = ref;
      if (rec["meta"].value("format", "") == "tool_call") {
        answer.clear();
        for (const auto& c : ojson::parse(ref)) answer += "<tool_call>" + c.dump() + "</tool_call>";
      }
      t.add(answer, ref, rec["meta"]);
    }
    const ojson rep = t.report();
    for (const auto& [k, v] : rep.items())
      if (k != "n") {
        EXPECT_DOUBLE_EQ(v.get<double>(), 1.0) << k;
      }
  }
  // Training files render too (first 150 lines of each; the generator's other lines are alike).
  o.max_samples = 150;
  for (const auto& s : r.stages)
    for (const auto& d : s.datasets) EXPECT_EQ(load_jsonl(d.path, d.type, rend, o).bad.size(), 0u);
}

TEST(TrainRecipeAssistant, DataMatchesItsGenerator) {
  if (std::system("python3 -c 'import sys' >/dev/null 2>&1") != 0 || !std::filesystem::exists("/usr/share/zoneinfo/zone.tab"))
    GTEST_SKIP() << "python3 or tzdata missing";
  const std::string script = "python3 " + std::string(HELIX_SOURCE_DIR) + "/scripts/make_assistant_data.py";
  const std::string dir = std::string(HELIX_SOURCE_DIR) + "/recipes/assistant/data";
  // Rendering the man pages takes a minute: first the quick check that this machine has the same sources.
  const int check = std::system((script + " --check " + dir + "/manifest.json >/dev/null").c_str());
  ASSERT_TRUE(WIFEXITED(check) && (WEXITSTATUS(check) == 0 || WEXITSTATUS(check) == 3)) << check;
  if (WEXITSTATUS(check) == 3) GTEST_SKIP() << "this machine lacks the tzdata or man pages the shipped data was made from";
  const std::string out = ::testing::TempDir() + "helix_assistant_data";
  ASSERT_EQ(std::system((script + " --out " + out + " >/dev/null").c_str()), 0);
  const ojson made = ojson::parse(slurp(out + "/manifest.json")), shipped = ojson::parse(slurp(dir + "/manifest.json"));
  if (made["sources"] != shipped["sources"]) {
    std::filesystem::remove_all(out);
    GTEST_SKIP() << "this machine's tzdata or man pages differ from those the shipped data was made with";
  }
  for (const auto& f : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(slurp(f.path().string()), slurp(out + "/" + f.path().filename().string())) << f.path();
  std::filesystem::remove_all(out);
}

// evaluate_answers feeds each record's prompt to the generator and scores what comes back: a
// generator that answers from a table of references scores 1.0; one that answers "I don't know"
// scores 0 on exact match and on the citation checks.
TEST(TrainRecipeAssistant, EvaluateAnswersScoresGeneratedText) {
  const Recipe r = load_recipe(recipe_path("recipe.toml"));
  auto tok = test_util::vocab_with("llama-spm", {"<bos>", "<start_of_turn>", "<end_of_turn>"}, "<bos>", false);
  const SampleRenderer rend(*tok, slurp(r.chat_template));
  const EvalSet* grounded = nullptr;
  for (const auto& e : r.evals)
    if (e.name == "grounded") grounded = &e;
  ASSERT_NE(grounded, nullptr);
  std::map<std::vector<int32_t>, std::string> answers;
  {
    std::ifstream in(grounded->path);
    std::string line;
    while (std::getline(in, line)) {
      std::string ref;
      const auto p = rend.prompt_tokens(ojson::parse(line), &ref);
      answers[p] = ref;
    }
  }
  int64_t calls = 0;
  const ojson good = evaluate_answers(*grounded, rend, [&](const std::vector<int32_t>& p, int64_t max_new) {
    ++calls;
    EXPECT_EQ(max_new, grounded->max_new_tokens);
    return answers.at(p);
  });
  EXPECT_EQ(calls, grounded->max_samples);
  EXPECT_EQ(good["n"], grounded->max_samples);
  EXPECT_DOUBLE_EQ(good["exact_match"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(good["citation_correct"].get<double>(), 1.0);
  const ojson bad = evaluate_answers(*grounded, rend, [](const std::vector<int32_t>&, int64_t) { return std::string("I don't know."); });
  EXPECT_LT(bad["exact_match"].get<double>(), 0.3);
  EXPECT_LT(bad["format_valid"].get<double>(), 0.3);
  EvalSet missing = *grounded;
  missing.path += ".missing";
  EXPECT_THROW(evaluate_answers(missing, rend, [](const std::vector<int32_t>&, int64_t) { return std::string(); }), Error);
}

TEST(TrainRecipeAssistant, TinyStagesLoadAndMix) {
  const Recipe r = load_recipe(recipe_path("tiny.toml"));
  auto tok = test_util::vocab_with("llama-spm", {"<bos>", "<start_of_turn>", "<end_of_turn>"}, "<bos>", false);
  const SampleRenderer rend(*tok, slurp(r.chat_template));
  const StageData d = load_stage_data(r, 0, rend);
  ASSERT_EQ(d.sets.size(), 2u);
  EXPECT_EQ(d.sets[0].samples.size(), 400u);
  EXPECT_TRUE(d.sets[0].bad.empty());
  EXPECT_EQ(d.sets[0].samples[0].type, "math");
  EXPECT_EQ(d.steps_for(r.stages[0]), 2);
  Stage by_epochs = r.stages[0];
  by_epochs.steps = 0;
  by_epochs.epochs = 1;
  EXPECT_EQ(d.steps_for(by_epochs), (d.n_tokens + 255) / 256);
  MixStream m = d.mix(r.seed);
  const auto rows = draw_rows(m, r.stages[0].batch, r.stages[0].seq_len);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_GE(rows[0].size(), 2u);
  EXPECT_THROW(load_stage_data(r, 3, rend), Error);
  // A stage whose seq_len is too short for its samples: every line is bad; with "stop" the first
  // one stops the load, naming the file and line.
  Recipe shorter = r;
  shorter.stages[1].seq_len = 16;
  try {
    load_stage_data(shorter, 1, rend);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("grounded.train.jsonl:1: the sample is"), std::string::npos) << e.what();
  }
  shorter.on_bad_data = "skip";
  EXPECT_THROW(load_stage_data(shorter, 1, rend), Error);  // nothing usable left
}

}  // namespace
}  // namespace helix::train

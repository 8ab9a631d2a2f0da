// Training recipes: TOML and JSON read the same, settings carry over between stages, and wrong
// values are errors that name the file, line and key.
#include "train/recipe.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace helix::train {
namespace {

const char* kToml = R"(
name = "demo"
chat_template = "chat.jinja"
seed = 7
[[evals]]
name = "cite"
path = "data/cite.eval.jsonl"
metrics = ["loss", "citation_correct"]
max_samples = 20

[[stages]]
name = "one"
steps = 100
lr = 3e-4
warmup = 10
seq_len = 256
batch = 2
checkpoint_activations = true
lora = { rank = 8, alpha = 16, dropout = 0.05, targets = ["attn_q", "attn_v"] }
[[stages.datasets]]
name = "fmt"
path = "data/fmt.train.jsonl"
weight = 3
eval = "data/fmt.eval.jsonl"
metrics = ["format_valid", "exact_match"]
[[stages.datasets]]
path = "data/math.train.jsonl"

[[stages]]
name = "two"
epochs = 1.5
schedule = "linear"
evals = ["cite"]
[[stages.datasets]]
path = "/abs/cite.train.jsonl"
)";

TEST(TrainRecipe, TomlStagesCarryOver) {
  const Recipe r = parse_recipe(kToml, "recipes/x/demo.toml");
  EXPECT_EQ(r.name, "demo");
  EXPECT_EQ(r.chat_template, "recipes/x/chat.jinja");
  EXPECT_EQ(r.out, "demo.gguf");
  EXPECT_EQ(r.seed, 7u);
  ASSERT_EQ(r.stages.size(), 2u);
  const Stage& a = r.stages[0];
  EXPECT_EQ(a.steps, 100);
  EXPECT_DOUBLE_EQ(a.lr, 3e-4);
  EXPECT_EQ(a.lora.rank, 8);
  EXPECT_TRUE(a.checkpoint_activations);
  EXPECT_EQ(a.lora.targets, (std::vector<std::string>{"attn_q", "attn_v"}));
  ASSERT_EQ(a.datasets.size(), 2u);
  EXPECT_EQ(a.datasets[0].path, "recipes/x/data/fmt.train.jsonl");
  EXPECT_DOUBLE_EQ(a.datasets[0].weight, 3);
  EXPECT_EQ(a.datasets[1].name, "math.train");
  EXPECT_EQ(a.datasets[1].type, "math.train");
  ASSERT_EQ(r.evals.size(), 2u);  // [[evals]] plus the dataset's eval shortcut
  EXPECT_EQ(r.evals[1].name, "fmt");
  EXPECT_EQ(r.evals[1].metrics, (std::vector<std::string>{"format_valid", "exact_match"}));
  EXPECT_EQ(a.evals, (std::vector<std::string>{"cite", "fmt"}));
  const Stage& b = r.stages[1];
  EXPECT_EQ(b.steps, 0);
  EXPECT_DOUBLE_EQ(b.epochs, 1.5);
  EXPECT_EQ(b.seq_len, 256);  // carried over
  EXPECT_TRUE(b.checkpoint_activations);
  EXPECT_DOUBLE_EQ(b.lr, 3e-4);
  EXPECT_EQ(b.schedule, "linear");
  EXPECT_EQ(b.lora, a.lora);
  EXPECT_EQ(b.datasets[0].path, "/abs/cite.train.jsonl");
  EXPECT_EQ(b.evals, (std::vector<std::string>{"cite"}));
}

TEST(TrainRecipe, JsonReadsTheSame) {
  const char* json = R"({"name": "demo", "stages": [{"steps": 5, "mode": "full", "datasets": [{"path": "a.jsonl"}]}]})";
  const Recipe r = parse_recipe(json, "/tmp/r.json");
  ASSERT_EQ(r.stages.size(), 1u);
  EXPECT_TRUE(r.stages[0].full);
  EXPECT_FALSE(r.stages[0].checkpoint_activations);
  EXPECT_EQ(r.stages[0].name, "stage1");
  EXPECT_EQ(r.stages[0].datasets[0].path, "/tmp/a.jsonl");
}

std::string error_of(const std::string& text, const std::string& path = "r.toml") {
  try {
    parse_recipe(text, path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TrainRecipe, ErrorsNameFileLineAndKey) {
  const std::string ds = "[[stages.datasets]]\npath = \"a.jsonl\"\n";
  EXPECT_EQ(error_of("[[stages]]\nsteps = 10\nlr = \"fast\"\n" + ds), "r.toml:3: stages[0].lr: must be a number (got \"fast\")");
  EXPECT_EQ(error_of("[[stages]]\nsteps = 10\nlr = -1.0\n" + ds),
            "r.toml:3: stages[0].lr: must be > 0 and <= 10 (got -1)");
  EXPECT_NE(error_of("[[stages]]\nsteps = 10\nlearning_rate = 1e-4\n" + ds).find("r.toml:3: stages[0].learning_rate: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("[[stages]]\nsteps = 10\nschedule = \"cos\"\n" + ds).find("'cos' is not one of 'cosine', 'linear', 'constant'"),
            std::string::npos);
  EXPECT_NE(error_of("[[stages]]\n" + ds).find("stages[0].steps: missing"), std::string::npos);
  EXPECT_NE(error_of("[[stages]]\nsteps = 1\nepochs = 2.0\n" + ds).find("not both"), std::string::npos);
  EXPECT_NE(error_of("[[stages]]\nsteps = 1\n").find("stages[0].datasets: missing"), std::string::npos);
  EXPECT_NE(error_of("seed = 1\n").find("stages: missing"), std::string::npos);
  EXPECT_NE(error_of("[[stages]]\nsteps = 2.5\n" + ds).find("stages[0].steps: must be a whole number"), std::string::npos);
  EXPECT_NE(error_of("x = [1,\n").find("r.toml:"), std::string::npos);
  EXPECT_NE(error_of("x = [1,\n").find("invalid TOML"), std::string::npos);
  EXPECT_NE(error_of("{\"stages\": 3}", "r.json").find("r.json: stages: must be a list"), std::string::npos);
  EXPECT_NE(error_of("{bad", "r.json").find("r.json: invalid JSON"), std::string::npos);
  EXPECT_NE(error_of("[[evals]]\nname = \"e\"\npath = \"e.jsonl\"\nmetrics = [\"bleu\"]\n[[stages]]\nsteps = 1\n" + ds)
                .find("r.toml:4: evals[0].metrics: unknown metric 'bleu'"),
            std::string::npos);
  EXPECT_NE(error_of("[[stages]]\nsteps = 1\nevals = [\"nope\"]\n" + ds).find("no eval set is named 'nope'"), std::string::npos);
  EXPECT_NE(error_of("[[stages]]\nsteps = 1\nlora = { rank = 8 }\n" + ds + "[[stages]]\nsteps = 1\nlora = { rank = 16 }\n" + ds)
                .find("stages[1].lora: changes the LoRA settings"),
            std::string::npos);
  EXPECT_NE(error_of("[[stages]]\nsteps = 1\ncheckpoint_activations = 1\n" + ds).find("must be true or false"),
            std::string::npos);
  EXPECT_THROW(load_recipe("/nonexistent/recipe.toml"), Error);
}

}  // namespace
}  // namespace helix::train

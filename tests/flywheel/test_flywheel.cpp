// The flywheel's promotion registry (promote, current, rollback, durable log, versioned files) and
// the promotion rule (decide) on hand-made evaluations.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "flywheel/registry.h"
#include "flywheel/round.h"
#include "knowledge/sqlite.h"
#include "model/lora.h"

namespace helix::flywheel {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / cat("helix_flywheel_", ::getpid(), "_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A small valid adapter whose factors depend on `v` (so different v: different bytes).
  std::string adapter(float v) {
    model::LoraAdapter a;
    a.arch = "llama";
    a.alpha = 2;
    model::LoraPair p;
    p.n_in = 4, p.n_out = 3, p.rank = 1;
    p.a = {v, v, v, v};
    p.b = {1, 2, 3};
    a.weights["blk.0.attn_q.weight"] = p;
    const std::string path = (dir_ / cat("a", v, ".gguf")).string();
    model::save_lora(a, path);
    return path;
  }
  fs::path dir_;
};

TEST_F(RegistryTest, PromoteKeepsVersionedFilesAndLogsDurably) {
  const std::string reg_path = (dir_ / "reg" / "registry.db").string();
  int64_t first = 0;
  {
    Registry reg(reg_path);
    PromotionInfo info;
    info.trigger = "test";
    info.evals_before = {{"format", {{"exact_match", 0.5}}}};
    info.evals_after = {{"format", {{"exact_match", 0.75}}}};
    const Promotion p = reg.promote("fw", adapter(1), info);
    first = p.id;
    EXPECT_EQ(p.previous, 0);
    EXPECT_EQ(p.action, "promote");
    EXPECT_EQ(fs::path(p.adapter).parent_path(), dir_ / "reg" / "adapters");
    EXPECT_EQ(fs::path(p.adapter).filename().string(), "fw-" + p.sha256.substr(0, 12) + ".gguf");
    EXPECT_TRUE(fs::exists(p.adapter));
    EXPECT_EQ(fs::read_symlink(dir_ / "reg" / "adapters" / "fw.current.gguf"), fs::path(p.adapter).filename());
    // The stored copy is independent of the source: changing the source does not change it.
    fs::remove(p.source);
    EXPECT_NO_THROW(model::load_lora(p.adapter));
  }
  Registry reg(reg_path);  // reopened: everything is still there
  auto cur = reg.current("fw");
  ASSERT_TRUE(cur);
  EXPECT_EQ(cur->id, first);
  EXPECT_DOUBLE_EQ(cur->info.evals_after["format"]["exact_match"].get<double>(), 0.75);
  EXPECT_EQ(cur->info.trigger, "test");
  const Promotion second = reg.promote("fw", adapter(2), {});
  EXPECT_EQ(second.previous, first);
  EXPECT_NE(second.adapter, cur->adapter);
  EXPECT_EQ(reg.current("fw")->id, second.id);
  EXPECT_FALSE(reg.current("other"));
  EXPECT_EQ(reg.log("fw").size(), 2u);
  EXPECT_EQ(reg.integrity_check(), "ok");
}

TEST_F(RegistryTest, RollbackGoesBackOnePromotionAtATimeAndToAnId) {
  Registry reg((dir_ / "registry.db").string());
  const Promotion p1 = reg.promote("fw", adapter(1), {});
  const Promotion p2 = reg.promote("fw", adapter(2), {});
  const Promotion p3 = reg.promote("fw", adapter(3), {});
  const Promotion r1 = reg.rollback("fw", 0, "test");
  EXPECT_EQ(r1.action, "rollback");
  EXPECT_EQ(r1.adapter, p2.adapter);
  EXPECT_EQ(reg.current("fw")->adapter, p2.adapter);
  const Promotion r2 = reg.rollback("fw", 0, "test");  // again: one further back, not back to p3
  EXPECT_EQ(r2.adapter, p1.adapter);
  EXPECT_THROW(reg.rollback("fw", 0, "test"), Error);  // p1 was the first
  const Promotion r3 = reg.rollback("fw", p3.id, "test");
  EXPECT_EQ(reg.current("fw")->adapter, p3.adapter);
  EXPECT_EQ(r3.previous, r2.id);
  EXPECT_THROW(reg.rollback("fw", p3.id + 100, "test"), Error);  // no such promotion
  EXPECT_THROW(reg.rollback("nothing", 0, "test"), Error);
  EXPECT_EQ(reg.log("").size(), 6u);
}

TEST_F(RegistryTest, RefusesBadInput) {
  Registry reg((dir_ / "registry.db").string());
  EXPECT_THROW(reg.promote("fw", (dir_ / "missing.gguf").string(), {}), Error);
  const std::string junk = (dir_ / "junk.gguf").string();
  { std::ofstream(junk) << "not a gguf"; }
  EXPECT_THROW(reg.promote("fw", junk, {}), Error);
  EXPECT_THROW(reg.promote("a:b", adapter(1), {}), Error);
  EXPECT_THROW(reg.promote("", adapter(1), {}), Error);
  EXPECT_TRUE(reg.log("").empty());
  // Another SQLite database is not taken for a registry.
  const std::string other = (dir_ / "other.db").string();
  {
    knowledge::Db db(other);
    db.exec("CREATE TABLE t(x INTEGER)");
  }
  EXPECT_THROW(Registry r2(other), Error);
}

TEST(Decide, PromotesOnlyWhenTheRuleHolds) {
  const PromoteRule rule{"format", "exact_match", 0.02, 0.05};
  const ojson before = {{"format", {{"loss", 1.0}, {"exact_match", 0.50}, {"n", 10}}}, {"tools", {{"format_valid", 0.90}}}};
  ojson after = {{"format", {{"loss", 1.2}, {"exact_match", 0.60}, {"n", 10}}}, {"tools", {{"format_valid", 0.88}}}};
  ojson d = decide(rule, before, after);
  EXPECT_TRUE(d["promote"].get<bool>()) << d.dump();
  EXPECT_NEAR(d["gain"].get<double>(), 0.10, 1e-12);
  after["format"]["exact_match"] = 0.51;  // gain 0.01 < 0.02
  d = decide(rule, before, after);
  EXPECT_FALSE(d["promote"].get<bool>());
  EXPECT_NE(d["reason"].get<std::string>().find("min_gain"), std::string::npos);
  after["format"]["exact_match"] = 0.70;
  after["tools"]["format_valid"] = 0.80;  // worse by 0.10 > 0.05
  d = decide(rule, before, after);
  EXPECT_FALSE(d["promote"].get<bool>());
  ASSERT_EQ(d["regressions"].size(), 1u);
  EXPECT_EQ(d["regressions"][0]["set"], "tools");
  // loss: lower is better.
  const PromoteRule by_loss{"format", "loss", 0.1, 0.05};
  after["tools"]["format_valid"] = 0.90;
  after["format"]["loss"] = 0.85;
  EXPECT_TRUE(decide(by_loss, before, after)["promote"].get<bool>());
  after["format"]["loss"] = 0.95;
  EXPECT_FALSE(decide(by_loss, before, after)["promote"].get<bool>());
  // A rule naming a set or metric the evaluations do not have is an error, not a silent "no".
  EXPECT_THROW(decide({"nope", "exact_match", 0, 0}, before, after), Error);
  EXPECT_THROW(decide({"format", "citation_correct", 0, 0}, before, after), Error);
}

TEST(FlywheelSettings, ReadsAndChecksTheRecipeTables) {
  const fs::path dir = fs::temp_directory_path() / cat("helix_flywheel_settings_", ::getpid());
  fs::create_directories(dir);
  auto write = [&](const std::string& text) {
    const std::string p = (dir / "r.toml").string();
    std::ofstream(p) << text;
    return p;
  };
  const FlywheelSettings s = read_flywheel_settings(write(
      "name = \"x\"\n[flywheel]\nname = \"fw\"\nfeedback_db = \"fb.db\"\nsft = \"d/s.jsonl\"\n"
      "[promote]\nset = \"secret\"\nmetric = \"exact_match\"\nmin_gain = 0.5\nmax_regression = 0.1\n"));
  EXPECT_EQ(s.name, "fw");
  EXPECT_EQ(s.feedback_db, (dir / "fb.db").string());
  EXPECT_EQ(s.sft, (dir / "d" / "s.jsonl").string());
  EXPECT_EQ(s.rule.set, "secret");
  EXPECT_DOUBLE_EQ(s.rule.min_gain, 0.5);
  EXPECT_DOUBLE_EQ(s.rule.max_regression, 0.1);
  EXPECT_EQ(read_flywheel_settings(write("name = \"x\"\n[promote]\nset = \"a\"\nmetric = \"loss\"\n")).name, "x");
  for (const char* bad : {"name = \"x\"\n",                                                 // no [promote]
                          "[promote]\nset = \"a\"\nmetric = \"bleu\"\n",                     // unknown metric
                          "[promote]\nmetric = \"loss\"\n",                                  // no set
                          "[promote]\nset = \"a\"\nmetric = \"loss\"\ntypo = 1\n",            // unknown key
                          "[flywheel]\nfeedback_db = \"f.db\"\n[promote]\nset = \"a\"\nmetric = \"loss\"\n"}) {
    try {
      read_flywheel_settings(write(bad));
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("r.toml"), std::string::npos) << e.what();
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace helix::flywheel

// The flywheel's feedback store: round trips, validation, the export's samples (read back by the
// training loader's conversation check), and durability when the writer is killed with SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "server/api_json.h"
#include "server/feedback.h"
#include "train/data.h"

namespace helix::server {
namespace {

namespace fs = std::filesystem;

std::string temp_db(const char* name) {
  const fs::path dir = fs::temp_directory_path() / cat("helix-feedback-", getpid());
  fs::create_directories(dir);
  const fs::path p = dir / name;
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(p.string() + suffix);
  return p.string();
}

ResponseRecord chat_response(const std::string& id, std::vector<std::string> choices) {
  ResponseRecord r;
  r.id = id;
  r.kind = "chat";
  r.model = "default";
  r.requested_model = "my-adapter";
  r.request = {{"model", "my-adapter"}, {"messages", {{{"role", "user"}, {"content", "Say hi"}}}}, {"temperature", 0.5}};
  r.choices = std::move(choices);
  r.created = 1700000000;
  return r;
}

int64_t pragma(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

TEST(Feedback, RoundTripAndPersistence) {
  const std::string path = temp_db("roundtrip.db");
  {
    FeedbackStore s(path);
    s.set_served_adapters("tone.gguf:0.5");
    s.record_response(chat_response("chatcmpl-1", {"Hi!", "Hello."}));
    Feedback f;
    f.response_id = "chatcmpl-1";
    f.rating = 0.5;
    f.comment = "fine";
    f.preferred_choice = 1;
    EXPECT_EQ(s.add_feedback(f), std::optional<int64_t>(1));
    f.response_id = "chatcmpl-404";
    EXPECT_EQ(s.add_feedback(f), std::nullopt);
    f.response_id = "chatcmpl-1";
    f.preferred_choice = 2;  // only 0 and 1 exist
    EXPECT_THROW(s.add_feedback(f), InvalidFeedback);
    EXPECT_THROW(s.record_response(chat_response("chatcmpl-1", {"x"})), Error);  // ids are unique
  }
  FeedbackStore s(path);  // reopened: everything is still there
  const auto r = s.response("chatcmpl-1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->choices, (std::vector<std::string>{"Hi!", "Hello."}));
  EXPECT_EQ(r->requested_model, "my-adapter");
  EXPECT_EQ(r->adapters, "tone.gguf:0.5");
  EXPECT_EQ(r->request["temperature"], 0.5);
  EXPECT_EQ(r->created, 1700000000);
  const auto all = s.all_feedback();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].rating, std::optional<double>(0.5));
  EXPECT_EQ(all[0].comment, std::optional<std::string>("fine"));
  EXPECT_EQ(all[0].correction, std::nullopt);
  EXPECT_EQ(all[0].preferred_choice, std::optional<int>(1));
  EXPECT_GT(all[0].created, 1700000000);
  EXPECT_EQ(s.integrity_check(), "ok");
  EXPECT_EQ(pragma(path, "PRAGMA user_version"), FeedbackStore::kSchemaVersion);
}

TEST(Feedback, RefusesOtherFiles) {
  const std::string newer = temp_db("newer.db");
  { FeedbackStore s(newer); }
  pragma(newer, "PRAGMA user_version = 99");
  try {
    FeedbackStore s(newer);
    FAIL() << "a newer schema was opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
  const std::string junk = temp_db("junk.db");
  std::ofstream(junk) << std::string(4096, 'x');
  try {
    FeedbackStore s(junk);
    FAIL() << "a non-database was opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a SQLite database"), std::string::npos) << e.what();
  }
  EXPECT_THROW(FeedbackStore(temp_db("x.db") + "/no/such/dir.db"), Error);
}

ApiError api_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError{0, "no error"};
}

TEST(Feedback, RequestValidation) {
  const Feedback f = parse_feedback_request({{"id", "chatcmpl-1"}, {"rating", -1}, {"correction", "Hello!"}});
  EXPECT_EQ(f.rating, std::optional<double>(-1));
  EXPECT_EQ(f.correction, std::optional<std::string>("Hello!"));
  const std::pair<ojson, std::string> bad[] = {
      {{{"rating", 1}}, "id"},
      {{{"id", 5}, {"rating", 1}}, "id"},
      {{{"id", "a"}, {"rating", 1.5}}, "rating"},
      {{{"id", "a"}, {"rating", 3}}, "rating"},
      {{{"id", "a"}, {"rating", "good"}}, "rating"},
      {{{"id", "a"}}, "rating"},
      {{{"id", "a"}, {"correction", ""}}, "correction"},
      {{{"id", "a"}, {"comment", 1}, {"rating", 1}}, "comment"},
      {{{"id", "a"}, {"preferred_choice", -1}}, "preferred_choice"},
      {{{"id", "a"}, {"preferred_choice", 0.5}}, "preferred_choice"},
  };
  for (const auto& [body, param] : bad) {
    const ApiError e = api_error([&] { parse_feedback_request(body); });
    EXPECT_EQ(e.status, 400) << body.dump();
    EXPECT_EQ(e.param, param) << body.dump();
  }
  EXPECT_EQ(api_error([] { post_feedback(nullptr, R"({"id":"a","rating":1})"); }).status, 404);
  FeedbackStore s(temp_db("post.db"));
  s.record_response(chat_response("chatcmpl-7", {"a"}));
  EXPECT_EQ(api_error([&] { post_feedback(&s, R"({"id":"chatcmpl-8","rating":1})"); }).status, 404);
  EXPECT_EQ(api_error([&] { post_feedback(&s, R"({"id":"chatcmpl-7","preferred_choice":1})"); }).status, 400);
  EXPECT_EQ(post_feedback(&s, R"({"id":"chatcmpl-7","rating":1})")["id"], 1);
}

TEST(Feedback, ExportSamplesAndPairs) {
  FeedbackStore s(temp_db("export.db"));
  s.record_response(chat_response("c-good", {"Hi!"}));
  s.record_response(chat_response("c-bad", {"Go away."}));
  s.record_response(chat_response("c-n3", {"A", "B", "A"}));
  ResponseRecord comp = chat_response("cmpl-1", {" world"});
  comp.kind = "completion";
  comp.request = {{"prompt", "Hello"}};
  s.record_response(comp);
  ResponseRecord ids = comp;
  ids.id = "cmpl-ids";
  ids.request = {{"prompt", {1, 2, 3}}};
  s.record_response(ids);
  auto fb = [&](const std::string& id, std::optional<double> rating, std::optional<std::string> corr = std::nullopt,
                std::optional<int> pref = std::nullopt) {
    Feedback f;
    f.response_id = id;
    f.rating = rating;
    f.correction = std::move(corr);
    f.preferred_choice = pref;
    ASSERT_TRUE(s.add_feedback(f));
  };
  fb("c-good", 1);
  fb("c-bad", -1);
  fb("c-bad", std::nullopt, "Hello, how can I help?");
  fb("c-n3", std::nullopt, std::nullopt, 1);  // B over A (the two A's are one pair each)
  fb("cmpl-1", 1);
  fb("cmpl-ids", 1);
  const ExportResult r = export_training_data(s, 1.0);
  EXPECT_EQ(r.feedback, 6);
  EXPECT_EQ(r.skipped, 1);
  ASSERT_EQ(r.sft.size(), 3u);
  EXPECT_EQ(r.sft[0]["messages"].back()["content"], "Hi!");
  EXPECT_EQ(r.sft[0]["meta"]["response_id"], "c-good");
  EXPECT_EQ(r.sft[0]["meta"]["requested_model"], "my-adapter");
  EXPECT_EQ(r.sft[0]["meta"]["created"], 1700000000);
  EXPECT_EQ(r.sft[1]["messages"].back()["content"], "Hello, how can I help?");
  EXPECT_EQ(r.sft[1]["meta"]["from"], "correction");
  EXPECT_EQ(r.sft[2]["prompt"], "Hello");
  EXPECT_EQ(r.sft[2]["completion"], " world");
  ASSERT_EQ(r.pref.size(), 3u);
  EXPECT_EQ(r.pref[0]["chosen"], "Hello, how can I help?");
  EXPECT_EQ(r.pref[0]["rejected"], "Go away.");
  EXPECT_EQ(r.pref[1]["chosen"], "B");
  EXPECT_EQ(r.pref[1]["rejected"], "A");
  EXPECT_EQ(r.pref[1]["messages"].size(), 1u);  // the prompt turns only
  // The training loader accepts every SFT line as a conversation ending in the answer.
  for (const auto& line : r.sft) {
    const auto msgs = train::SampleRenderer::messages_of(line);
    EXPECT_EQ(msgs.back()["role"], "assistant") << line.dump();
  }
  EXPECT_EQ(export_training_data(s, -1.0).sft.size(), 4u);  // the -1 answer too
}

// A child writes feedback in a loop and reports each write after it returned; it is killed with
// SIGKILL mid-loop. The file must pass integrity_check and hold every reported write.
TEST(Feedback, SurvivesKill9MidWrite) {
  const std::string path = temp_db("kill.db");
  {
    FeedbackStore s(path);
    s.record_response(chat_response("chatcmpl-k", {"x", "y"}));
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    FeedbackStore s(path);
    Feedback f;
    f.response_id = "chatcmpl-k";
    f.correction = std::string(3000, 'c');  // spans pages, so a kill can land inside a write
    for (int i = 0;; ++i) {
      f.rating = (i % 3) - 1;
      const int64_t id = *s.add_feedback(f);
      if (write(fds[1], &id, sizeof id) != sizeof id) _exit(1);
    }
  }
  close(fds[1]);
  std::set<int64_t> acked;
  const auto t0 = std::chrono::steady_clock::now();
  int64_t id = 0;
  while (acked.size() < 300 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20) &&
         read(fds[0], &id, sizeof id) == sizeof id)
    acked.insert(id);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  while (read(fds[0], &id, sizeof id) == sizeof id) acked.insert(id);  // acknowledged before the kill
  close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_GT(acked.size(), 10u);
  FeedbackStore s(path);
  EXPECT_EQ(s.integrity_check(), "ok");
  std::set<int64_t> stored;
  for (const auto& f : s.all_feedback()) stored.insert(f.id);
  for (int64_t a : acked) EXPECT_TRUE(stored.count(a)) << "acknowledged write " << a << " is missing";
  EXPECT_GE(stored.size(), acked.size());
}

}  // namespace
}  // namespace helix::server

// The feedback store over SQLite and its export to training JSONL (see feedback.h).
#include "server/feedback.h"

#include <chrono>
#include <cmath>

#include "core/error.h"
#include "knowledge/sqlite.h"
#include "server/api_json.h"

namespace helix::server {
namespace {

using ojson = nlohmann::ordered_json;

using knowledge::Db;
using knowledge::Stmt;
using knowledge::Transaction;

constexpr const char* kSchema = R"sql(
CREATE TABLE responses(
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  model TEXT NOT NULL,
  requested_model TEXT NOT NULL,
  adapters TEXT NOT NULL,
  request TEXT NOT NULL,
  choices TEXT NOT NULL,
  created INTEGER NOT NULL);
CREATE TABLE feedback(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  response_id TEXT NOT NULL REFERENCES responses(id),
  rating REAL,
  comment TEXT,
  correction TEXT,
  preferred_choice INTEGER,
  created INTEGER NOT NULL);
CREATE INDEX feedback_by_response ON feedback(response_id);
PRAGMA user_version = 1;
)sql";

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

FeedbackStore::FeedbackStore(const std::string& path)
    : db_(std::make_unique<Db>(path, knowledge::DbOptions{"feedback database", /*durable=*/true})) {
  knowledge::open_schema(*db_, "feedback store", kSchemaVersion, kSchema);
}

FeedbackStore::~FeedbackStore() = default;

// A single INSERT is its own transaction in SQLite (autocommit): with WAL and synchronous=FULL
// it is on disk when sqlite3_step returns.
void FeedbackStore::record_response(const ResponseRecord& r) {
  std::lock_guard<std::mutex> lk(mu_);
  Stmt s(*db_,
         "INSERT INTO responses(id, kind, model, requested_model, adapters, request, choices, created) "
         "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  s.bind(1, r.id).bind(2, r.kind).bind(3, r.model).bind(4, r.requested_model);
  s.bind(5, r.adapters.empty() ? served_adapters_ : r.adapters).bind(6, dump(r.request));
  s.bind(7, dump(ojson(r.choices))).bind(8, r.created ? r.created : unix_now());
  s.step();
}

std::optional<int64_t> FeedbackStore::add_feedback(Feedback f) {
  std::lock_guard<std::mutex> lk(mu_);
  Transaction tx(*db_);
  Stmt q(*db_, "SELECT choices FROM responses WHERE id = ?");
  q.bind(1, f.response_id);
  if (!q.step()) return std::nullopt;
  const size_t n = ojson::parse(q.str(0)).size();
  if (f.preferred_choice && (*f.preferred_choice < 0 || static_cast<size_t>(*f.preferred_choice) >= n))
    throw InvalidFeedback(cat("'preferred_choice' is ", *f.preferred_choice, " but response '", f.response_id, "' has ", n,
                              n == 1 ? " choice (index 0)" : cat(" choices (indices 0..", n - 1, ")")));
  if (f.created == 0) f.created = unix_now();
  Stmt s(*db_,
         "INSERT INTO feedback(response_id, rating, comment, correction, preferred_choice, created) "
         "VALUES(?, ?, ?, ?, ?, ?)");
  s.bind(1, f.response_id);
  if (f.rating) s.bind(2, *f.rating);
  else s.bind_null(2);
  s.bind_opt(3, f.comment).bind_opt(4, f.correction);
  if (f.preferred_choice) s.bind(5, static_cast<int64_t>(*f.preferred_choice));
  else s.bind_null(5);
  s.bind(6, f.created).step();
  const int64_t id = db_->last_insert_id();
  tx.commit();
  return id;
}

std::optional<ResponseRecord> FeedbackStore::response(const std::string& id) {
  std::lock_guard<std::mutex> lk(mu_);
  Stmt s(*db_,
         "SELECT id, kind, model, requested_model, adapters, request, choices, created FROM responses WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  ResponseRecord r;
  r.id = s.str(0);
  r.kind = s.str(1);
  r.model = s.str(2);
  r.requested_model = s.str(3);
  r.adapters = s.str(4);
  r.request = ojson::parse(s.str(5));
  r.choices = ojson::parse(s.str(6)).get<std::vector<std::string>>();
  r.created = s.i64(7);
  return r;
}

std::vector<Feedback> FeedbackStore::all_feedback() {
  std::lock_guard<std::mutex> lk(mu_);
  Stmt s(*db_, "SELECT id, response_id, rating, comment, correction, preferred_choice, created FROM feedback ORDER BY id");
  std::vector<Feedback> out;
  while (s.step()) {
    Feedback f;
    f.id = s.i64(0);
    f.response_id = s.str(1);
    if (!s.is_null(2)) f.rating = s.f64(2);
    f.comment = s.opt_str(3);
    f.correction = s.opt_str(4);
    if (!s.is_null(5)) f.preferred_choice = static_cast<int>(s.i64(5));
    f.created = s.i64(6);
    out.push_back(std::move(f));
  }
  return out;
}

std::string FeedbackStore::integrity_check() {
  std::lock_guard<std::mutex> lk(mu_);
  Stmt s(*db_, "PRAGMA integrity_check");
  std::string out;
  while (s.step()) out += (out.empty() ? "" : "\n") + s.str(0);
  return out;
}

Feedback parse_feedback_request(const ojson& body) {
  auto bad = [](const std::string& field, const std::string& msg) {
    return ApiError{400, msg, "invalid_request_error", field, "invalid_value"};
  };
  Feedback f;
  auto id = body.find("id");
  if (id == body.end() || !id->is_string() || id->get<std::string>().empty())
    throw bad("id", "'id' must be the id of a chat or completion response (e.g. \"chatcmpl-...\")");
  f.response_id = id->get<std::string>();
  if (auto r = body.find("rating"); r != body.end() && !r->is_null()) {
    if (!r->is_number() || r->get<double>() < -1 || r->get<double>() > 1)
      throw bad("rating", "'rating' must be a number from -1 (bad) to 1 (good); 0 is neutral");
    f.rating = r->get<double>();
  }
  auto opt_text = [&](const char* key) -> std::optional<std::string> {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw bad(key, cat("'", key, "' must be a string"));
    return it->get<std::string>();
  };
  f.comment = opt_text("comment");
  f.correction = opt_text("correction");
  if (f.correction && f.correction->empty())
    throw bad("correction", "'correction' must not be empty (it is the corrected answer text)");
  if (auto p = body.find("preferred_choice"); p != body.end() && !p->is_null()) {
    if (!p->is_number_integer() || p->get<int64_t>() < 0 || p->get<int64_t>() > 1000000)
      throw bad("preferred_choice", "'preferred_choice' must be the index of a choice (0, 1, ...)");
    f.preferred_choice = p->get<int>();
  }
  if (!f.rating && !f.correction && !f.preferred_choice)
    throw bad("rating", "give at least one of 'rating' (-1..1), 'correction' or 'preferred_choice'");
  return f;
}

ojson post_feedback(FeedbackStore* store, const std::string& body) {
  if (!store)
    throw ApiError{404, "this server does not store feedback; start helix serve with --feedback-db FILE to turn it on",
                   "invalid_request_error", "", "feedback_disabled"};
  Feedback f = parse_feedback_request(parse_body(body));
  std::optional<int64_t> id;
  try {
    id = store->add_feedback(f);
  } catch (const InvalidFeedback& e) {
    throw ApiError{400, e.what(), "invalid_request_error", "preferred_choice", "invalid_value"};
  }
  if (!id)
    throw ApiError{404, cat("no response with id '", f.response_id, "' is stored (only answers given while --feedback-db was on are)"),
                   "invalid_request_error", "id", "response_not_found"};
  return {{"id", *id}, {"object", "feedback"}, {"response_id", f.response_id}};
}

namespace {

// The prompt of a stored request as training fields: {"messages": [...], "tools"?} for chat,
// {"prompt": text} for completions; null when the prompt was token ids (no text to train on).
ojson prompt_fields(const ResponseRecord& r) {
  ojson out = ojson::object();
  if (r.kind == "chat") {
    out["messages"] = r.request.value("messages", ojson::array());
    if (r.request.contains("tools") && r.request["tools"].is_array()) out["tools"] = r.request["tools"];
    return out;
  }
  const ojson p = r.request.value("prompt", ojson());
  if (p.is_string()) out["prompt"] = p;
  else if (p.is_array() && p.size() == 1 && p[0].is_string()) out["prompt"] = p[0];
  else return nullptr;
  return out;
}

ojson sft_line(const ojson& prompt, const std::string& answer, const ojson& meta) {
  ojson line = ojson::object();
  if (prompt.contains("messages")) {
    line["messages"] = prompt["messages"];
    line["messages"].push_back({{"role", "assistant"}, {"content", answer}});
    if (prompt.contains("tools")) line["tools"] = prompt["tools"];
  } else {
    line["prompt"] = prompt["prompt"];
    line["completion"] = answer;
  }
  line["meta"] = meta;
  return line;
}

ojson pref_line(const ojson& prompt, const std::string& chosen, const std::string& rejected, const ojson& meta) {
  ojson line = prompt;
  line["chosen"] = chosen;
  line["rejected"] = rejected;
  line["meta"] = meta;
  return line;
}

}  // namespace

ExportResult export_training_data(FeedbackStore& store, double min_rating) {
  ExportResult out;
  for (const Feedback& f : store.all_feedback()) {
    ++out.feedback;
    const std::optional<ResponseRecord> r = store.response(f.response_id);
    if (!r || r->choices.empty()) continue;  // foreign keys make this impossible; be safe
    const ojson prompt = prompt_fields(*r);
    if (prompt.is_null()) {
      ++out.skipped;
      continue;
    }
    const size_t rated = f.preferred_choice ? static_cast<size_t>(*f.preferred_choice) : 0;
    if (rated >= r->choices.size()) continue;
    auto meta = [&](const char* from) {
      ojson m = {{"source", "flywheel"},     {"from", from},           {"response_id", r->id},
                 {"feedback_id", f.id},      {"model", r->model},      {"requested_model", r->requested_model},
                 {"adapters", r->adapters},  {"created", r->created},    {"feedback_created", f.created}};
      m["rating"] = f.rating ? ojson(*f.rating) : ojson(nullptr);
      return m;
    };
    const std::string& answer = r->choices[rated];
    if (f.correction) {
      out.sft.push_back(sft_line(prompt, *f.correction, meta("correction")));
      if (*f.correction != answer) out.pref.push_back(pref_line(prompt, *f.correction, answer, meta("correction")));
    } else if (f.rating && *f.rating >= min_rating) {
      out.sft.push_back(sft_line(prompt, answer, meta("rating")));
    }
    if (f.preferred_choice) {
      for (size_t k = 0; k < r->choices.size(); ++k)
        if (k != rated && r->choices[k] != answer)
          out.pref.push_back(pref_line(prompt, answer, r->choices[k], meta("preferred_choice")));
    }
  }
  return out;
}

}  // namespace helix::server

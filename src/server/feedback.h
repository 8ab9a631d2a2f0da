// The flywheel's feedback store: every answer `helix serve --feedback-db FILE` gives is recorded
// with its request, and users rate, correct or pick among those answers with POST /v1/feedback.
// `helix flywheel export` turns the store into SFT and preference JSONL for training.
//
// Durability: SQLite (Debian's libsqlite3) in WAL mode with synchronous=FULL and one transaction
// per write, so a write that returned is on disk and a process killed mid-write (kill -9) leaves
// the file consistent (the unfinished transaction is rolled back on the next open). The schema
// version is SQLite's user_version; a file written by a newer Helix is refused, not misread.
//
// Ratings are numbers from -1 (bad) to 1 (good), 0 neutral; a rating with n > 1 choices refers to
// preferred_choice when given, else to choice 0.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace helix::knowledge {
class Db;
}

namespace helix::server {

// One answered request: `request` is the request body as received (messages or prompt,
// sampling parameters, the model name the request used, which may name an adapter).
struct ResponseRecord {
  std::string id;               // the response id the client saw ("chatcmpl-...", "cmpl-...")
  std::string kind;             // "chat" or "completion"
  std::string model;            // the model that answered: ALIAS, or ALIAS:ADAPTER (serve --lora NAME=FILE)
  std::string requested_model;  // body["model"] ("" when absent): the model or adapter asked for
  std::string adapters;         // the LoRA adapters served (helix serve --lora flags, comma-joined)
  nlohmann::ordered_json request;
  std::vector<std::string> choices;  // the text of every choice, by index
  int64_t created = 0;               // Unix seconds
};

struct Feedback {
  int64_t id = 0;  // the store's record id (set by add_feedback)
  std::string response_id;
  std::optional<double> rating;  // -1..1
  std::optional<std::string> comment, correction;
  std::optional<int> preferred_choice;
  int64_t created = 0;
};

// A feedback value that does not fit its response (the API answers 400).
class InvalidFeedback : public Error {
 public:
  explicit InvalidFeedback(const std::string& what) : Error(what) {}
};

class FeedbackStore {
 public:
  // Opens or creates the store at `path` (its folder must exist). Throws helix::Error when the
  // file is not a SQLite database, is from a newer schema, or cannot be written.
  explicit FeedbackStore(const std::string& path);
  ~FeedbackStore();
  FeedbackStore(const FeedbackStore&) = delete;
  FeedbackStore& operator=(const FeedbackStore&) = delete;

  static constexpr int kSchemaVersion = 1;

  // The adapters the server applies (its --lora flags): recorded with responses that name none.
  void set_served_adapters(std::string adapters) { served_adapters_ = std::move(adapters); }

  // Each is one transaction, durable when it returns (thread-safe).
  void record_response(const ResponseRecord& r);
  // Checks f against its response (preferred_choice in range) and stores it; returns the new
  // record id, or nullopt when no response has that id. Throws InvalidFeedback for a bad value.
  std::optional<int64_t> add_feedback(Feedback f);

  std::optional<ResponseRecord> response(const std::string& id);
  // Every feedback record, oldest first.
  std::vector<Feedback> all_feedback();
  std::string integrity_check();  // "ok" when the file is sound

 private:
  std::unique_ptr<knowledge::Db> db_;
  std::mutex mu_;
  std::string served_adapters_;
};

// Training data from a store: SFT conversations ({"messages": [...], "meta": provenance}, or
// {"prompt", "completion", "meta"} for raw completions) and preference pairs ({"messages": the
// prompt turns | "prompt", "chosen", "rejected", "meta"}), the shapes src/train/data.h reads.
//   SFT: the rated choice when rating >= min_rating and there is no correction; a correction.
//   Pairs: correction over the rated choice; preferred_choice over each other (different) choice.
struct ExportResult {
  std::vector<nlohmann::ordered_json> sft, pref;
  int64_t feedback = 0;  // records read
  int64_t skipped = 0;   // records whose prompt could not be written as text (token-id prompts)
};
ExportResult export_training_data(FeedbackStore& store, double min_rating);

// The POST /v1/feedback body -> Feedback; throws ApiError (400) naming a bad field.
Feedback parse_feedback_request(const nlohmann::ordered_json& body);
// POST /v1/feedback: the response body {"id": record id, "object": "feedback", "response_id"};
// throws ApiError: 404 without a store (store == nullptr) or for an unknown response id, 400 for
// bad fields.
nlohmann::ordered_json post_feedback(FeedbackStore* store, const std::string& body);

}  // namespace helix::server

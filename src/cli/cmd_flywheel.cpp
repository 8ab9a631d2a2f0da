// helix flywheel export: feedback stored by `helix serve --feedback-db` -> training JSONL (SFT
// conversations and preference pairs, each line with its provenance in "meta"; see
// server/feedback.h for which feedback becomes which sample).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "server/api_json.h"
#include "server/feedback.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix flywheel export --db FILE [--sft OUT.jsonl] [--pref OUT.jsonl] [--min-rating R]\n"
    "  --db FILE          the feedback store written by helix serve --feedback-db FILE\n"
    "  --sft OUT.jsonl    SFT conversations: answers rated >= R, and corrections as the assistant turn\n"
    "  --pref OUT.jsonl   preference pairs {messages|prompt, chosen, rejected}: a correction over the\n"
    "                     answer, a preferred choice over the other choices (n > 1)\n"
    "  --min-rating R     lowest rating (-1..1) whose answer becomes an SFT sample (default 1)\n"
    "Every line carries \"meta\": response id, feedback id, model, requested model, times, rating.\n";

void write_jsonl(const std::string& path, const std::vector<server::ojson>& lines) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    HELIX_CHECK(f, "cannot write '", path, "' (does its folder exist?)");
    for (const auto& l : lines) f << server::dump(l) << '\n';
    HELIX_CHECK(f.flush(), "writing '", path, "' failed (disk full?)");
  }
  std::filesystem::rename(tmp, path);  // a reader never sees half a file
}

double parse_rating(const std::string& v) {
  try {
    size_t used = 0;
    const double r = std::stod(v, &used);
    if (used == v.size() && r >= -1 && r <= 1) return r;
  } catch (const std::exception&) {
  }
  throw Error(cat("--min-rating expects a number from -1 to 1, got '", v, "'"));
}

}  // namespace

int cmd_flywheel(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  HELIX_CHECK(std::string(argv[1]) == "export", "unknown flywheel command '", argv[1], "' (only 'export' exists; see --help)");
  std::string db, sft, pref;
  double min_rating = 1;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    HELIX_CHECK(i + 1 < argc, "option ", a, " needs a value (see --help)");
    if (a == "--db") db = argv[++i];
    else if (a == "--sft") sft = argv[++i];
    else if (a == "--pref") pref = argv[++i];
    else if (a == "--min-rating") min_rating = parse_rating(argv[++i]);
    else throw Error(cat("unknown option '", a, "' (see --help)"));
  }
  HELIX_CHECK(!db.empty(), "--db FILE is required: the store written by helix serve --feedback-db FILE");
  HELIX_CHECK(std::filesystem::exists(db), "no feedback database at '", db, "' (start helix serve --feedback-db ", db,
              " and send feedback first)");
  HELIX_CHECK(!sft.empty() || !pref.empty(), "nothing to write: give --sft OUT.jsonl and/or --pref OUT.jsonl");
  server::FeedbackStore store(db);
  const server::ExportResult r = server::export_training_data(store, min_rating);
  if (!sft.empty()) write_jsonl(sft, r.sft);
  if (!pref.empty()) write_jsonl(pref, r.pref);
  std::fprintf(stderr, "helix flywheel: %lld feedback records -> %zu SFT samples, %zu preference pairs",
               static_cast<long long>(r.feedback), r.sft.size(), r.pref.size());
  if (r.skipped) std::fprintf(stderr, " (%lld skipped: token-id prompts have no text)", static_cast<long long>(r.skipped));
  std::fputc('\n', stderr);
  return 0;
}

}  // namespace helix::cli

#include "cli/best_of.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "io/gguf.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"
#include "train/reward_train.h"

namespace helix::cli {

using ojson = nlohmann::ordered_json;

void take_best_of_flags(std::vector<char*>& args, BestOf& b) {
  std::vector<char*> keep;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string a = args[i];
    const bool ours = i > 0 && (a == "--best-of" || a == "--rm" || a == "--rm-aspect");
    if (!ours) {
      keep.push_back(args[i]);
      continue;
    }
    HELIX_CHECK(i + 1 < args.size(), a, " needs a value");
    const std::string v = args[++i];
    if (a == "--best-of") b.n = int_flag(a, v, 1, 1024);
    else if (a == "--rm") b.rm = v;
    else b.aspect = v;
  }
  args = keep;
  HELIX_CHECK(b.n == 0 || !b.rm.empty(), "--best-of N needs --rm RM.gguf (a reward model from helix rm train)");
  HELIX_CHECK(b.n > 0 || (b.rm.empty() && b.aspect.empty()), "--rm and --rm-aspect go with --best-of N");
}

std::vector<std::string> sample_replies(const GenOptions& o, runtime::Session& s, const std::vector<int32_t>& ids,
                                        int64_t n) {
  std::vector<std::string> replies;
  for (int64_t i = 0; i < n; ++i) {
    runtime::GenerateOptions g = o.gen;
    g.sampling.seed = o.gen.sampling.seed + static_cast<uint64_t>(i);
    s.set_tokens(ids);  // the prompt's cache is reused; only the reply is new
    std::string text;
    s.generate(g, [&](const std::string& t) { text += t; });
    replies.push_back(text);
  }
  return replies;
}

void run_best_of(const GenOptions& o, const Loaded& l, const std::vector<int32_t>& ids, const std::string& prompt,
                 const BestOf& b) {
  HELIX_CHECK(o.chat, "--best-of needs --chat (or --chat-template): the reward model scores replies to a user turn");
  RewardScorer scorer(b.rm);
  std::vector<std::string> ranked = scorer.response_aspects();  // the heads that make the ranking score
  if (!b.aspect.empty()) {
    HELIX_CHECK(std::find(ranked.begin(), ranked.end(), b.aspect) != ranked.end(), "reward model '", b.rm,
                "' has no response-level head named '", b.aspect, "'");
    ranked = {b.aspect};
  }
  HELIX_CHECK(!ranked.empty(), "reward model '", b.rm, "' has no response-level head to rank replies with");

  runtime::Session s(l.model, l.tokenizer, o.n_ctx, o.n_batch);
  const std::vector<std::string> replies = sample_replies(o, s, ids, b.n);
  for (size_t i = 0; i < replies.size(); ++i)
    std::fprintf(stderr, "[best-of] sample %zu/%zu: %zu bytes\n", i + 1, replies.size(), replies[i].size());
  nlohmann::ordered_json rec = {{"prompt", prompt}};
  if (!o.system.empty()) rec["system"] = o.system;
  std::vector<double> score(replies.size(), -std::numeric_limits<double>::infinity());
  size_t best = 0;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].find_first_not_of(" \t\r\n") == std::string::npos) continue;  // empty replies are not scored
    const ojson sc = scorer.score(rec, replies[i]);
    double sum = 0;
    std::string line;
    for (const auto& a : scorer.response_aspects()) line += cat("  ", a, " ", sc[a].get<double>());
    for (const auto& a : ranked) sum += sc[a].get<double>();
    score[i] = sum / static_cast<double>(ranked.size());
    std::fprintf(stderr, "[best-of] sample %zu: score %.4f%s\n", i + 1, score[i], line.c_str());
  }
  for (size_t i = 0; i < score.size(); ++i)
    if (score[i] > score[best]) best = i;
  std::fprintf(stderr, "[best-of] chose sample %zu of %zu (score %.4f)\n", best + 1, replies.size(), score[best]);
  std::fwrite(replies[best].data(), 1, replies[best].size(), stdout);
  std::fputc('\n', stdout);
}

ojson rm_head_scores(const train::RewardModel& m, const std::vector<float>& s, size_t n_steps) {
  ojson out = ojson::object();
  const size_t H = m.heads().size();
  for (size_t h = 0; h < H; ++h) {
    const auto& hd = m.heads()[h];
    if (hd.level == train::RmLevel::Response) {
      out[hd.aspect] = s[n_steps * H + h];
    } else {
      ojson st = ojson::array();
      for (size_t k = 0; k < n_steps; ++k) st.push_back(s[k * H + h]);
      out[hd.aspect] = st;
    }
  }
  return out;
}

RewardScorer::RewardScorer(const std::string& path) {
  train::RmFileInfo info;
  rm_ = train::load_reward_model(path, "", false, &info);
  const gguf::GGUFFile base = gguf::GGUFFile::open(info.base_model);
  tok_ = tok::Tokenizer::from_gguf(base);
  sr_ = std::make_unique<train::SampleRenderer>(
      *tok_, info.chat_template.empty() ? train::chat_template_for_training(base, "") : info.chat_template);
  rr_ = std::make_unique<train::RmRenderer>(*sr_, info.step_separator);
  for (const auto& h : rm_->heads()) step_heads_ = step_heads_ || h.level == train::RmLevel::Step;
}

RewardScorer::~RewardScorer() = default;

std::vector<std::string> RewardScorer::response_aspects() const {
  std::vector<std::string> out;
  for (const auto& h : rm_->heads())
    if (h.level == train::RmLevel::Response) out.push_back(h.aspect);
  return out;
}

ojson RewardScorer::score(const ojson& record, const std::string& reply) {
  train::RmSeq q;
  size_t n_steps = 0;
  if (step_heads_) {  // as helix rm score: steps split at the separator, then the reply's end
    ojson r = record;
    r["response"] = reply;
    q = rr_->steps(r);
    n_steps = q.score_pos.size();
    q.score_pos.push_back(q.last);
  } else {
    q = rr_->response(record, reply);
  }
  const auto sc = train::score_sequences(*rm_, {&q}, 1024);
  return rm_head_scores(*rm_, sc[0], n_steps);
}

}  // namespace helix::cli

#include "cli/best_of.h"

#include <cstdio>
#include <limits>

#include "core/error.h"
#include "io/gguf.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"
#include "train/reward_train.h"

namespace helix::cli {

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

void run_best_of(const GenOptions& o, const Loaded& l, const std::vector<int32_t>& ids, const std::string& prompt,
                 const BestOf& b) {
  HELIX_CHECK(o.chat, "--best-of needs --chat (or --chat-template): the reward model scores replies to a user turn");
  train::RmFileInfo info;
  auto rm = train::load_reward_model(b.rm, "", false, &info);
  int head = -1;
  if (!b.aspect.empty()) {
    head = rm->head_index(b.aspect);
    HELIX_CHECK(head >= 0 && rm->heads()[static_cast<size_t>(head)].level == train::RmLevel::Response, "reward model '",
                b.rm, "' has no response-level head named '", b.aspect, "'");
  }
  std::vector<size_t> ranked;  // the response-level heads that make the ranking score
  for (size_t h = 0; h < rm->heads().size(); ++h)
    if (rm->heads()[h].level == train::RmLevel::Response && (head < 0 || static_cast<int>(h) == head))
      ranked.push_back(h);
  HELIX_CHECK(!ranked.empty(), "reward model '", b.rm, "' has no response-level head to rank replies with");

  runtime::Session s(l.model, l.tokenizer, o.n_ctx, o.n_batch);
  std::vector<std::string> replies;
  for (int64_t i = 0; i < b.n; ++i) {
    runtime::GenerateOptions g = o.gen;
    g.sampling.seed = o.gen.sampling.seed + static_cast<uint64_t>(i);
    s.set_tokens(ids);  // the prompt's cache is reused; only the reply is new
    std::string text;
    s.generate(g, [&](const std::string& t) { text += t; });
    replies.push_back(text);
    std::fprintf(stderr, "[best-of] sample %lld/%lld: %zu bytes\n", static_cast<long long>(i + 1),
                 static_cast<long long>(b.n), text.size());
  }
  const gguf::GGUFFile base = gguf::GGUFFile::open(info.base_model);
  const auto tokenizer = tok::Tokenizer::from_gguf(base);
  const train::SampleRenderer sr(*tokenizer, info.chat_template.empty() ? train::chat_template_for_training(base, "")
                                                                         : info.chat_template);
  const train::RmRenderer rr(sr, info.step_separator);
  nlohmann::ordered_json rec = {{"prompt", prompt}};
  if (!o.system.empty()) rec["system"] = o.system;
  std::vector<train::RmSeq> seqs;
  std::vector<size_t> which;  // reply index of each scored sequence (empty replies are not scored)
  for (size_t i = 0; i < replies.size(); ++i)
    if (replies[i].find_first_not_of(" \t\r\n") != std::string::npos) {
      seqs.push_back(rr.response(rec, replies[i]));
      which.push_back(i);
    }
  std::vector<const train::RmSeq*> ptrs;
  for (const auto& q : seqs) ptrs.push_back(&q);
  const auto sc = train::score_sequences(*rm, ptrs, 1024);
  std::vector<double> score(replies.size(), -std::numeric_limits<double>::infinity());
  size_t best = 0;
  for (size_t k = 0; k < which.size(); ++k) {
    double sum = 0;
    std::string line;
    for (size_t h = 0; h < rm->heads().size(); ++h)
      if (rm->heads()[h].level == train::RmLevel::Response)
        line += cat("  ", rm->heads()[h].aspect, " ", sc[k][h]);
    for (size_t h : ranked) sum += sc[k][h];
    score[which[k]] = sum / static_cast<double>(ranked.size());
    std::fprintf(stderr, "[best-of] sample %zu: score %.4f%s\n", which[k] + 1, score[which[k]], line.c_str());
  }
  for (size_t i = 0; i < score.size(); ++i)
    if (score[i] > score[best]) best = i;
  std::fprintf(stderr, "[best-of] chose sample %zu of %zu (score %.4f)\n", best + 1, replies.size(), score[best]);
  std::fwrite(replies[best].data(), 1, replies[best].size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace helix::cli

#include "train/reward_data.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "train/prefs.h"
#include "train/recipe_reader.h"

namespace helix::train {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

RmRenderer::RmRenderer(const SampleRenderer& r, std::string step_separator) : r_(r), sep_(std::move(step_separator)) {
  HELIX_CHECK(!sep_.empty(), "the step separator must not be empty");
}

// The record's conversation with the reply as the assistant's last turn (prefs.h: one reader for
// preference pairs and reward records).
Sample RmRenderer::render(const ojson& rec, const std::string& reply) const {
  if (reply.empty()) throw BadData("the reply to score is empty");
  return r_.render(pair_conversation(rec, reply, "reply", true));
}

RmSeq RmRenderer::response(const ojson& record, const std::string& reply) const {
  Sample s = render(record, reply);
  RmSeq q;
  q.tokens = std::move(s.tokens);
  for (size_t i = s.loss.size(); i-- > 0;)
    if (s.loss[i]) {
      q.last = static_cast<int32_t>(i);
      q.score_pos.push_back(q.last);
      break;
    }
  if (q.score_pos.empty()) throw BadData("the reply rendered to no tokens");
  return q;
}

RmSeq RmRenderer::place(const ojson& record, const std::string& content, const std::vector<size_t>& ends) const {
  Sample s = render(record, content);
  // The reply is the last run of loss tokens (earlier assistant turns of "messages" come before).
  size_t a1 = s.loss.size();
  while (a1 > 0 && !s.loss[a1 - 1]) --a1;
  if (a1 == 0) throw BadData("the reply rendered to no tokens");
  size_t a0 = --a1;
  while (a0 > 0 && s.loss[a0 - 1]) --a0;
  // The reply's text token by token: the step ending at character c scores at the first token
  // whose text reaches c (control tokens such as the end of turn add no text).
  std::string text;
  std::vector<size_t> cum;
  tok::StreamDecoder dec(r_.tokenizer());  // text as it becomes final (whole UTF-8 characters)
  for (size_t i = a0; i <= a1; ++i) {
    std::string piece = dec.push(s.tokens[i]);
    // SentencePiece's space mark, where byte tokens spell it (whole: the decoder holds partial characters)
    for (size_t k; (k = piece.find("\xE2\x96\x81")) != std::string::npos;) piece.replace(k, 3, " ");
    text += piece;
    cum.push_back(text.size());
  }
  // Where the reply's text starts in it (templates may trim the reply: then the trimmed text).
  size_t lead = 0, at = text.find(content);
  if (at == std::string::npos) {
    lead = content.find_first_not_of(" \t\r\n");
    const size_t end = content.find_last_not_of(" \t\r\n");
    if (lead != std::string::npos) at = text.find(content.substr(lead, end - lead + 1));
  }
  if (at == std::string::npos)
    throw BadData("the reply's tokens do not decode to its text, so the step boundaries cannot be placed");
  RmSeq q;
  q.tokens = std::move(s.tokens);
  q.last = static_cast<int32_t>(a1);
  size_t j = 0;
  for (size_t e : ends) {
    while (j < cum.size() && cum[j] < at + (e > lead ? e - lead : 0)) ++j;
    q.score_pos.push_back(static_cast<int32_t>(a0 + std::min(j, cum.size() - 1)));
  }
  return q;
}

RmSeq RmRenderer::steps(const ojson& rec) const {
  std::string content;
  std::vector<size_t> ends;  // each step's end in `content` (exclusive)
  if (rec.contains("steps")) {
    if (!rec["steps"].is_array() || rec["steps"].empty()) throw BadData("\"steps\" must be a non-empty list of strings");
    for (const auto& st : rec["steps"]) {
      if (!st.is_string() || st.get<std::string>().empty()) throw BadData("every step must be a non-empty string");
      if (!ends.empty()) content += sep_;
      content += st.get<std::string>();
      ends.push_back(content.size());
    }
    return place(rec, content, ends);
  }
  if (!rec.contains("response") || !rec["response"].is_string())
    throw BadData("a step-level record needs \"steps\": [...] or \"response\": \"...\" (split at the step separator)");
  content = rec["response"].get<std::string>();
  for (size_t p = 0;;) {
    const size_t q = std::min(content.find(sep_, p), content.size());
    const size_t last = content.find_last_not_of(" \t\r\n", q == 0 ? 0 : q - 1);
    if (last != std::string::npos && last >= p && q > p) ends.push_back(last + 1);
    if (q == content.size()) break;
    p = q + sep_.size();
  }
  if (ends.empty()) throw BadData("\"response\" has no steps");
  return place(rec, content, ends);
}

RmExample rm_example(const ojson& rec, RmLevel level, int head, const std::string& aspect, const RmRenderer& r) {
  if (!rec.is_object()) throw BadData("a reward record must be a JSON object");
  if (rec.contains("aspect") && (!rec["aspect"].is_string() || rec["aspect"].get<std::string>() != aspect))
    throw BadData(cat("the record is for aspect ", rec["aspect"].dump(), ", but this file trains '", aspect, "'"));
  RmExample ex;
  ex.head = head;
  ex.level = level;
  auto text = [&](const char* k) {
    if (!rec.contains(k) || !rec[k].is_string())
      throw BadData(cat("a response-level record needs \"chosen\" and \"rejected\" strings (\"", k, "\" is missing)"));
    return rec[k].get<std::string>();
  };
  if (level == RmLevel::Response) {
    ex.a = r.response(rec, text("chosen"));
    ex.b = r.response(rec, text("rejected"));
    return ex;
  }
  ex.a = r.steps(rec);
  const size_t n = ex.a.score_pos.size();
  if (!rec.contains("labels") || !rec["labels"].is_array() || rec["labels"].size() != n)
    throw BadData(cat("a step-level record needs \"labels\": one number (0 or 1) per step (", n, " steps)"));
  for (const auto& l : rec["labels"]) {
    if (!l.is_number() || l.get<double>() < 0 || l.get<double>() > 1)
      throw BadData(cat("step labels must be numbers from 0 to 1 (got ", l.dump(), ")"));
    ex.labels.push_back(l.get<float>());
  }
  return ex;
}

RmLoadResult load_rm_jsonl(const std::string& path, RmLevel level, int head, const std::string& aspect,
                           const RmRenderer& r, int64_t seq_len, OnBadData on_bad, int64_t max_records) {
  std::ifstream in(path, std::ios::binary);
  HELIX_CHECK(in, "cannot read the reward data file ", path);
  RmLoadResult out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      ojson rec;
      try {
        rec = ojson::parse(line);
      } catch (const nlohmann::json::parse_error& e) {
        throw BadData(cat("invalid JSON: ", e.what()));
      }
      RmExample ex = rm_example(rec, level, head, aspect, r);
      const auto longest = static_cast<int64_t>(std::max(ex.a.tokens.size(), ex.b.tokens.size()));
      if (seq_len > 0 && longest > seq_len)
        throw BadData(cat("a sequence has ", longest, " tokens, more than seq_len = ", seq_len));
      ex.where = cat(path, ":", n);
      out.n_tokens += ex.n_tokens();
      out.examples.push_back(std::move(ex));
      if (max_records > 0 && static_cast<int64_t>(out.examples.size()) >= max_records) break;
    } catch (const BadData& e) {
      BadRecord b{path, n, e.what()};
      if (on_bad == OnBadData::kStop) throw Error(b.message());
      out.bad.push_back(b);
    }
  }
  return out;
}

RmBatch make_rm_batch(const std::vector<const RmExample*>& ex, float margin) {
  RmBatch out;
  TrainBatch& b = out.batch;
  out.terms.margin = margin;
  const float w = 1.0f / static_cast<float>(std::max<size_t>(1, ex.size()));
  auto add = [&](const RmSeq& s) {
    const auto off = static_cast<int32_t>(b.tokens.size());
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      b.tokens.push_back(s.tokens[i]);
      b.targets.push_back(-1);
      b.pos.push_back(static_cast<int32_t>(i));
      b.start.push_back(off);
    }
    return static_cast<int64_t>(off);
  };
  for (const RmExample* e : ex) {
    const int64_t oa = add(e->a);
    if (e->level == RmLevel::Response) {
      const int64_t ob = add(e->b);
      out.terms.pairs.push_back({e->head, oa + e->a.score_pos[0], ob + e->b.score_pos[0], w});
      continue;
    }
    const float ws = w / static_cast<float>(e->a.score_pos.size());
    for (size_t k = 0; k < e->a.score_pos.size(); ++k)
      out.terms.steps.push_back({e->head, oa + e->a.score_pos[k], e->labels[k], ws});
  }
  return out;
}

// ---- recipes -------------------------------------------------------------------------------------

RmRecipe parse_rm_recipe(const std::string& text, const std::string& path) {
  RecipeLines lines;
  const ojson root = parse_recipe_tree(text, path, lines);
  const RecipeReader r(root, "", lines, path);
  if (!root.is_object()) r.fail("", "must be a table/object at the top");
  r.only({"name", "model", "chat_template", "out", "seed", "on_bad_data", "adapter", "train_adapter", "lora", "steps",
          "batch", "lr", "head_lr", "warmup", "schedule", "grad_clip", "weight_decay", "margin", "seq_len",
          "step_separator", "max_eval", "batch_by", "aspects"});
  RmRecipe rec;
  static_cast<RecipeHead&>(rec) = read_recipe_head(r, path);
  r.boolean("train_adapter", rec.train_adapter);
  if (r.has("lora")) {
    if (!rec.adapter.empty()) r.fail("lora", "give either adapter (start from an adapter) or lora (a new one), not both");
    const RecipeReader l = r.child("lora");
    l.only({"rank", "alpha", "dropout", "targets"});
    l.integer("rank", rec.lora.rank, 1, 4096);
    rec.lora.alpha = 2.0 * static_cast<double>(rec.lora.rank);
    l.num("alpha", rec.lora.alpha, 0, 1e6, true);
    l.num("dropout", rec.lora.dropout, 0, 0.99);
    l.strings("targets", rec.lora.targets);
    if (rec.lora.targets.empty()) l.fail("targets", "must name at least one projection (e.g. attn_q, ffn_down)");
    rec.new_lora = true;
  }
  r.integer("steps", rec.steps, 1, 100'000'000);
  r.integer("batch", rec.batch, 1, 1 << 16);
  r.num("lr", rec.lr, 0, 10);
  r.num("head_lr", rec.head_lr, 0, 10, true);
  r.integer("warmup", rec.warmup, 0, 100'000'000);
  r.str("schedule", rec.schedule, {"cosine", "linear", "constant"});
  r.str("batch_by", rec.batch_by, {"example", "aspect"});
  r.num("grad_clip", rec.grad_clip, 0, 1e9);
  r.num("weight_decay", rec.weight_decay, 0, 10);
  r.num("margin", rec.margin, -100, 100);
  r.integer("seq_len", rec.seq_len, 8, 1 << 20);
  r.integer("max_eval", rec.max_eval, 0, 100'000'000);
  if (r.has("step_separator")) {
    if (!root["step_separator"].is_string() || root["step_separator"].get<std::string>().empty())
      r.fail("step_separator", "must be a non-empty string (e.g. \"\\n\")");
    rec.step_separator = root["step_separator"].get<std::string>();
  }
  const size_t na = r.list_size("aspects");
  if (na == 0) r.fail("aspects", "missing (a reward recipe lists its heads as [[aspects]])");
  std::set<std::string> names;
  for (size_t i = 0; i < na; ++i) {
    const RecipeReader a = r.child("aspects", true, i);
    a.only({"name", "level", "train", "eval", "weight", "shapes_base"});
    RmAspect asp;
    if (!a.has("name")) a.fail("name", "missing (the aspect's name names its head)");
    if (!a.has("train")) a.fail("train", "missing (the aspect's training JSONL file)");
    a.str("name", asp.name);
    if (!names.insert(asp.name).second) a.fail("name", cat("two aspects are named '", asp.name, "'"));
    std::string level = "response";
    a.str("level", level, {"response", "step"});
    asp.level = rm_level_from_name(level);
    a.str("train", asp.train);
    asp.train = resolve_recipe_path(rec.dir, asp.train);
    a.str("eval", asp.eval);
    asp.eval = resolve_recipe_path(rec.dir, asp.eval);
    a.num("weight", asp.weight, 0, 1e9, true);
    a.boolean("shapes_base", asp.shapes_base);
    rec.aspects.push_back(asp);
  }
  return rec;
}

RmRecipe load_rm_recipe(const std::string& path) { return parse_rm_recipe(read_recipe_text(path), path); }

}  // namespace helix::train

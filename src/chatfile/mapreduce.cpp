#include "chatfile/mapreduce.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "chatfile/salient.h"
#include "docs/chunker.h"

namespace helix::chatfile {

namespace {

using Clock = std::chrono::steady_clock;

// Runs one phase's requests, taking finished parts from the cache and storing new ones as they
// arrive. Returns each request's reply text, in order.
std::vector<std::string> run_phase(Backend& b, const std::vector<Request>& reqs, const std::string& phase,
                                   const JobOptions& opt, Result& r) {
  std::vector<std::string> out(reqs.size());
  std::vector<std::string> keys(reqs.size());
  std::vector<Request> todo;
  std::vector<size_t> todo_index;
  Progress p;
  p.phase = phase;
  p.total = reqs.size();
  for (size_t i = 0; i < reqs.size(); ++i) {
    keys[i] = key_of({b.model_id(), reqs[i].messages.dump(), std::to_string(reqs[i].max_tokens),
                      reqs[i].schema});
    if (opt.cache) {
      if (auto hit = opt.cache->get(keys[i])) {
        out[i] = *hit;
        ++p.cached;
        continue;
      }
    }
    todo.push_back(reqs[i]);
    todo_index.push_back(i);
  }
  p.done = p.cached;
  r.parts += reqs.size();
  r.cached_parts += p.cached;
  if (opt.on_progress) opt.on_progress(p);
  if (todo.empty()) return out;
  const auto t0 = Clock::now();
  int64_t tokens = 0;
  size_t computed = 0;
  b.run(todo, [&](size_t k, const Reply& rep) {
    HELIX_CHECK(rep.error.empty(), "the model failed on part ", todo_index[k] + 1, " of ", phase, ": ", rep.error);
    const size_t i = todo_index[k];
    out[i] = rep.text;
    if (opt.cache) opt.cache->put(keys[i], rep.text);
    r.prompt_tokens += rep.prompt_tokens;
    r.completion_tokens += rep.completion_tokens;
    tokens += rep.prompt_tokens - rep.cached_tokens + rep.completion_tokens;
    ++computed;
    ++p.done;
    const double el = std::chrono::duration<double>(Clock::now() - t0).count();
    p.tokens_per_s = el > 0 ? static_cast<double>(tokens) / el : 0;
    p.eta_s = el / static_cast<double>(computed) * static_cast<double>(todo.size() - computed);
    if (opt.on_progress) opt.on_progress(p);
  });
  return out;
}

Request make_request(const std::string& prompt, int64_t max_tokens, const ojson& schema) {
  Request q;
  q.messages = ojson::array({user_message(prompt)});
  q.max_tokens = max_tokens;
  if (!schema.is_null()) {
    q.grammar = grammar::Grammar::from_json_schema(schema);
    q.schema = schema.dump();
  }
  else q.stop = {"\n---", "\n\n\n"};
  return q;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

}  // namespace

namespace {

// Word and CJK-bigram "grams" of a text, for grounding checks.
std::set<std::string> grams_of(std::string_view s) {
  std::set<std::string> g;
  std::string word, prev_cjk;
  for (size_t i = 0; i <= s.size();) {
    const unsigned char c = i < s.size() ? static_cast<unsigned char>(s[i]) : ' ';
    const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    const bool in_number = !word.empty() && std::isdigit(static_cast<unsigned char>(word.back())) && (c == ',' || c == '.') &&
                           i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]));
    if ((n == 1 && std::isalnum(c)) || in_number) {  // 1,306 and 96.4 stay one word
      word += static_cast<char>(std::tolower(c));
    } else {
      if (word.size() > 1 || (!word.empty() && std::isdigit(static_cast<unsigned char>(word[0])))) g.insert(word);
      word.clear();
    }
    if (n == 3 && c >= 0xE4 && i + 3 <= s.size()) {
      const std::string cp(s.substr(i, 3));
      if (!prev_cjk.empty()) g.insert(prev_cjk + cp);
      prev_cjk = cp;
    } else if (n != 1 || !std::isalnum(c)) {
      prev_cjk.clear();
    }
    i += n;
  }
  return g;
}

}  // namespace

bool grounded(const std::string& sentence, const std::set<std::string>& source, double min_share) {
  const auto g = grams_of(sentence);
  if (g.empty()) return false;
  size_t in = 0;
  for (const auto& w : g) {
    const bool found = source.count(w) > 0;
    if (!found && std::isdigit(static_cast<unsigned char>(w[0]))) return false;  // every figure must be the source's
    in += found;
  }
  return static_cast<double>(in) >= min_share * static_cast<double>(g.size());
}

std::set<std::string> source_grams(const std::string& text) { return grams_of(text); }

// The text without label lines a model copies from the prompt ("Part 2:", "Text:", "原文：").
static std::string drop_labels(const std::string& text) {
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = trim(text.substr(at, end - at));
    const bool label = (line.size() >= 1 && line.back() == ':') || (line.size() >= 3 && line.compare(line.size() - 3, 3, "\xEF\xBC\x9A") == 0);
    if (!(label && docs::count_chars(line) <= 12)) out += line + "\n";
    at = end + 1;
  }
  return out;
}

std::string clean_summary(const std::string& raw, const std::string& source, size_t max_sentences) {
  const auto src = grams_of(source);
  const std::string text = drop_labels(raw);
  std::vector<std::string> kept;
  for (const auto& [b, e] : docs::split_sentences(text)) {
    std::string s = trim(text.substr(b, e - b));
    while (!s.empty() && (s[0] == '*' || s[0] == '-' || s[0] == '#')) s = trim(s.substr(1));
    if (docs::count_chars(s) < 8) continue;  // a heading or a marker, no sentence
    if (!grounded(s, src, 0.6)) continue;    // not in the source: invented, or the prompt echoed
    if (salience(s) <= 0) continue;          // filler
    bool repeat = false;
    for (const auto& k : kept) repeat = repeat || similarity(k, s) >= 0.6;
    if (repeat) continue;
    kept.push_back(s);
    if (kept.size() >= max_sentences) break;
  }
  std::string out;
  for (const auto& k : kept) {
    const bool cjk_end = static_cast<unsigned char>(k.back()) >= 0x80;
    out += out.empty() || cjk_end ? k : " " + k;
  }
  return out;
}

namespace {

std::string unit_where(const Corpus& c, const Unit& u) {
  const std::string name = std::filesystem::path(c.docs[u.doc].path).filename().string();
  return where(name, u.page_first, u.page_last, u.section);
}

// Partial summaries -> one, in groups that fit the reduce budget, level by level.
std::string reduce_all(Backend& b, const Corpus& c, std::vector<std::string> parts, const JobOptions& opt, Result& r) {
  const std::string title = corpus_title(c);
  while (parts.size() > 1) {
    std::vector<std::vector<std::string>> groups(1);
    size_t used = 0;
    for (auto& p : parts) {
      const size_t t = docs::estimate_tokens(p);
      if (!groups.back().empty() && used + t > opt.reduce_input_tokens && groups.back().size() >= 2) {
        groups.emplace_back();
        used = 0;
      }
      groups.back().push_back(std::move(p));
      used += t;
    }
    // A last group of one would only be copied up a level: give it to the group before.
    if (groups.size() > 1 && groups.back().size() == 1) {
      groups[groups.size() - 2].push_back(std::move(groups.back()[0]));
      groups.pop_back();
    }
    std::vector<Request> reqs;
    for (const auto& g : groups) reqs.push_back(make_request(reduce_prompt(c.lang, title, g), opt.summary_tokens, nullptr));
    ++r.levels;
    parts = run_phase(b, reqs, cat("reduce ", r.levels), opt, r);
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string src;
      for (const auto& g : groups[i]) src += g + "\n";
      parts[i] = clean_summary(parts[i], src, 8);
      if (parts[i].empty()) parts[i] = clean_summary(src, src, 8);  // nothing usable: keep the partials' own sentences
    }
  }
  return parts.empty() ? "" : parts[0];
}

// Adds `text` to `list` ({text, source}) unless a similar entry is there.
void add_unique(ojson& list, const std::string& text, const std::string& source, double threshold = 0.7) {
  for (const auto& e : list)
    if (similarity(e["text"].get<std::string>(), text) >= threshold) return;
  list.push_back({{"text", text}, {"source", source}});
}

std::string str_or(const ojson& v, const char* key) {
  auto it = v.find(key);
  return it != v.end() && it->is_string() ? trim(it->get<std::string>()) : "";
}

// The grounded sentences of a generated item (see clean_summary), each on its own.
std::vector<std::string> grounded_sentences(const std::string& text, const std::set<std::string>& src) {
  std::vector<std::string> out;
  for (const auto& [b, e] : docs::split_sentences(text)) {
    const std::string s = trim(text.substr(b, e - b));
    if (docs::count_chars(s) >= 16 && grounded(s, src, 0.6) && salience(s) > 0) out.push_back(s);
  }
  return out;
}

// Merges one unit's JSON reply into the result, keeping only what the unit's text supports;
// returns the unit's topic summaries as text.
std::string merge_unit(const ojson& j, const std::string& unit_text, const std::string& src, Result& r) {
  const auto g = source_grams(unit_text);
  std::string partial;
  for (const auto& t : j.value("topics", ojson::array())) {
    const std::string title = str_or(t, "title"), summary = clean_summary(str_or(t, "summary"), unit_text, 2);
    if (title.empty() || !grounded(title, g, 0.5)) continue;
    partial += title + ": " + summary + "\n";
    bool merged = false;
    for (auto& e : r.topics) {
      if (similarity(e["title"].get<std::string>(), title) < 0.6) continue;
      if (!summary.empty() && similarity(e["summary"].get<std::string>(), summary) < 0.7)
        e["summary"] = trim(e["summary"].get<std::string>() + " " + summary);
      if (e["sources"].back() != src) e["sources"].push_back(src);
      merged = true;
      break;
    }
    if (!merged) r.topics.push_back({{"title", title}, {"summary", summary}, {"sources", ojson::array({src})}});
  }
  for (const auto& k : j.value("key_points", ojson::array()))
    if (k.is_string())
      for (const auto& s : grounded_sentences(k.get<std::string>(), g)) add_unique(r.key_points, s, src);
  for (const auto& d : j.value("decisions", ojson::array()))
    if (d.is_string())
      for (const auto& s : grounded_sentences(d.get<std::string>(), g)) add_unique(r.decisions, s, src);
  for (const auto& a : j.value("action_items", ojson::array())) {
    const std::string task = str_or(a, "task");
    if (task.empty() || !grounded(task, g, 0.5)) continue;
    bool seen = false;
    for (const auto& e : r.action_items) seen = seen || similarity(e["task"].get<std::string>(), task) >= 0.7;
    if (seen) continue;
    // An owner or a date the text does not name is dropped, not guessed.
    const std::string owner = str_or(a, "owner"), due = str_or(a, "due");
    const bool owner_ok = !owner.empty() && unit_text.find(owner) != std::string::npos;
    const bool due_ok = !due.empty() && unit_text.find(due) != std::string::npos;
    r.action_items.push_back({{"task", task},
                              {"owner", owner_ok ? ojson(owner) : ojson(nullptr)},
                              {"due", due_ok ? ojson(due) : ojson(nullptr)},
                              {"source", src}});
  }
  return partial;
}

// What the rules found and the model's JSON left out: topic titles (summarised by the unit's most
// salient sentences after the title), decisions, and action items with the names and dates of
// their own line. Returns the added topics' summaries as text.
std::string merge_cues(const MinutesCues& cues, const std::string& unit_text, const std::string& src, bool minutes,
                       Result& r) {
  std::string partial;
  for (const auto& title : cues.topics) {
    const size_t at = unit_text.find(title);
    const std::string after = at == std::string::npos ? unit_text : unit_text.substr(at + title.size());
    const std::string summary = clean_summary(compress(after, 80), after, 2);
    ojson* have = nullptr;
    for (auto& e : r.topics)
      if (similarity(e["title"].get<std::string>(), title) >= 0.6) have = &e;
    if (have && !(*have)["summary"].get<std::string>().empty()) continue;
    if (have) (*have)["summary"] = summary;
    else r.topics.push_back({{"title", title}, {"summary", summary}, {"sources", ojson::array({src})}});
    partial += title + ": " + summary + "\n";
  }
  if (!minutes) return partial;
  for (const auto& d : cues.decisions) add_unique(r.decisions, d, src);
  for (const auto& a : cues.actions) {
    bool have = false;
    for (auto& e : r.action_items) {
      if (similarity(e["task"].get<std::string>(), a.task) < 0.7) continue;
      have = true;
      // The task's own line decides: a name or date from elsewhere in the chunk is the model's slip.
      auto in = [](const ojson& v, const std::vector<std::string>& xs) {
        return v.is_string() && std::find(xs.begin(), xs.end(), v.get<std::string>()) != xs.end();
      };
      if (!a.owners.empty() && !in(e["owner"], a.owners)) e["owner"] = a.owners[0];
      if (!a.dates.empty() && !in(e["due"], a.dates)) e["due"] = a.dates[0];
    }
    if (have) continue;
    r.action_items.push_back({{"task", a.task},
                              {"owner", a.owners.empty() ? ojson(nullptr) : ojson(a.owners[0])},
                              {"due", a.dates.empty() ? ojson(nullptr) : ojson(a.dates[0])},
                              {"source", src}});
  }
  return partial;
}

}  // namespace

std::string corpus_title(const Corpus& c) {
  if (c.docs.size() == 1) return c.docs[0].title;
  return cat(c.docs.size(), c.lang == Lang::Zh ? " 份文档" : " documents");
}

double similarity(const std::string& a, const std::string& b) {
  auto grams = [](const std::string& s) {
    std::vector<std::string> cps;
    for (size_t i = 0; i < s.size();) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      if (n == 1) {
        if (std::isalnum(c)) cps.emplace_back(1, static_cast<char>(std::tolower(c)));
      } else if (n == 3 && static_cast<unsigned char>(s[i]) >= 0xE4) {  // CJK and beyond, not punctuation
        cps.push_back(s.substr(i, n));
      }
      i += n;
    }
    std::set<std::string> g;
    for (size_t i = 0; i + 1 < cps.size(); ++i) g.insert(cps[i] + cps[i + 1]);
    if (cps.size() == 1) g.insert(cps[0]);
    return g;
  };
  const auto ga = grams(a), gb = grams(b);
  if (ga.empty() || gb.empty()) return ga.empty() && gb.empty() ? 1.0 : 0.0;
  size_t both = 0;
  for (const auto& g : ga) both += gb.count(g);
  return static_cast<double>(both) / static_cast<double>(ga.size() + gb.size() - both);
}

Result run_task(Backend& b, const Corpus& c, Task t, const JobOptions& opt) {
  const auto t0 = Clock::now();
  Result r;
  r.task = t;
  r.title = corpus_title(c);
  r.lang = c.lang;
  r.units = c.units.size();
  std::vector<Request> reqs;
  std::vector<std::string> inputs;
  std::vector<MinutesCues> cues;
  for (const auto& u : c.units) {
    cues.push_back(t == Task::Minutes || t == Task::Topics ? find_minutes_cues(u.text) : MinutesCues{});
    inputs.push_back(compress(u.text, std::max<size_t>(120, std::min(opt.map_input_tokens, u.tokens * 2 / 5))));
    reqs.push_back(make_request(map_prompt(t, c.lang, c.docs[u.doc].title, inputs.back()),
                                t == Task::Summary ? opt.summary_tokens : opt.map_json_tokens, map_schema(t, cues.back())));
  }
  std::vector<std::string> parts = run_phase(b, reqs, "map", opt, r);
  if (t == Task::Summary) {
    for (size_t i = 0; i < parts.size(); ++i) {
      parts[i] = clean_summary(parts[i], inputs[i], 5);
      if (parts[i].empty()) parts[i] = clean_summary(inputs[i], inputs[i], 3);  // the model gave nothing usable
    }
    r.summary = reduce_all(b, c, std::move(parts), opt, r);
  } else {
    std::vector<std::string> partials;
    for (size_t i = 0; i < parts.size(); ++i) {
      ojson j = ojson::object();
      try {
        j = ojson::parse(parts[i]);
      } catch (const std::exception&) {
        // cut by the token limit before the JSON closed: the cues alone speak for this unit
      }
      const std::string src = unit_where(c, c.units[i]);
      const size_t had = r.key_points.size();
      std::string p = merge_unit(j, c.units[i].text, src, r);
      if (t == Task::KeyPoints && r.key_points.size() == had)  // nothing the text supports (e.g. the prompt's
        for (const auto& s : grounded_sentences(clean_summary(inputs[i], inputs[i], 3), source_grams(c.units[i].text)))
          if (const std::string k = s.substr(s.rfind('\n') + 1); docs::count_chars(k) >= 16)  // own words listed
            add_unique(r.key_points, k, src);  // back): its salient sentences, without a heading before them
      if (t != Task::KeyPoints) p += merge_cues(cues[i], c.units[i].text, src, t == Task::Minutes, r);
      if (!p.empty()) partials.push_back(p);
    }
    if (t == Task::Minutes) r.summary = reduce_all(b, c, std::move(partials), opt, r);
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

ojson Result::to_json() const {
  ojson j = {{"task", task_name(task)}, {"title", title}, {"language", lang_name(lang)}};
  if (task == Task::Summary || task == Task::Minutes) j["summary"] = summary;
  if (task == Task::Topics || task == Task::Minutes) j["topics"] = topics;
  if (task == Task::KeyPoints) j["key_points"] = key_points;
  if (task == Task::Minutes) {
    j["decisions"] = decisions;
    j["action_items"] = action_items;
  }
  j["stats"] = {{"units", units},       {"parts", parts},
                {"cached_parts", cached_parts}, {"reduce_levels", levels},
                {"prompt_tokens", prompt_tokens}, {"completion_tokens", completion_tokens},
                {"seconds", seconds}};
  return j;
}

std::string Result::to_markdown() const {
  const bool zh = lang == Lang::Zh;
  auto or_dash = [](const ojson& v) { return v.is_string() ? v.get<std::string>() : std::string("-"); };
  std::string s = "# " + title + "\n\n";
  if (!summary.empty()) s += std::string("## ") + (zh ? "摘要" : "Summary") + "\n\n" + summary + "\n\n";
  if (task == Task::Topics || task == Task::Minutes) {
    s += std::string("## ") + (zh ? "议题" : "Topics") + "\n\n";
    int n = 0;
    for (const auto& t : topics) {
      s += cat("### ", ++n, ". ", t["title"].get<std::string>(), "\n\n", t["summary"].get<std::string>(), "\n\n");
      std::string srcs;
      for (const auto& w : t["sources"]) srcs += (srcs.empty() ? "" : "; ") + w.get<std::string>();
      s += "_" + srcs + "_\n\n";
    }
  }
  if (task == Task::KeyPoints) {
    s += std::string("## ") + (zh ? "要点" : "Key points") + "\n\n";
    for (const auto& k : key_points)
      s += "- " + k["text"].get<std::string>() + " _(" + k["source"].get<std::string>() + ")_\n";
    s += "\n";
  }
  if (task == Task::Minutes) {
    s += std::string("## ") + (zh ? "决定" : "Decisions") + "\n\n";
    for (const auto& d : decisions) s += "- " + d["text"].get<std::string>() + "\n";
    if (decisions.empty()) s += zh ? "（无）\n" : "(none recorded)\n";
    s += std::string("\n## ") + (zh ? "待办事项" : "Action items") + "\n\n";
    s += zh ? "| 任务 | 负责人 | 截止 |\n| --- | --- | --- |\n" : "| Task | Owner | Due |\n| --- | --- | --- |\n";
    for (const auto& a : action_items)
      s += "| " + a["task"].get<std::string>() + " | " + or_dash(a["owner"]) + " | " + or_dash(a["due"]) + " |\n";
    s += "\n";
  }
  return s;
}

}  // namespace helix::chatfile

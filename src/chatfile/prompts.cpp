#include "chatfile/prompts.h"

#include <algorithm>

#include "core/error.h"

namespace helix::chatfile {

const char* task_name(Task t) {
  switch (t) {
    case Task::Summary: return "summary";
    case Task::Topics: return "topics";
    case Task::Minutes: return "minutes";
    case Task::KeyPoints: return "key_points";
  }
  return "?";
}

ojson user_message(const std::string& text) { return {{"role", "user"}, {"content", text}}; }

namespace {

ojson str(int max_len) { return {{"type", "string"}, {"minLength", 1}, {"maxLength", max_len}}; }
ojson list(ojson item, int min_items, int max_items) {
  return {{"type", "array"}, {"items", std::move(item)}, {"minItems", min_items}, {"maxItems", max_items}};
}
ojson object(ojson props) {
  ojson req = ojson::array();
  for (auto it = props.begin(); it != props.end(); ++it) req.push_back(it.key());
  return {{"type", "object"}, {"properties", std::move(props)}, {"required", std::move(req)}};
}

struct Words {
  const char* map_summary;
  const char* map_topics;
  const char* map_minutes;
  const char* map_key_points;
  const char* reduce;
  const char* part;  // label of a partial summary
  const char* qa;
  const char* question;
  const char* not_found;
};

const Words kEn{
    "Summarize the text above (a part of the document \"%T\") in at most five sentences. Keep the names, numbers, dates and "
    "decisions it states. Write only the summary.",
    "List the topics discussed in the text above, a part of the document \"%T\". For each topic give a short title and a "
    "one-sentence summary. Answer in JSON.",
    "Write the minutes of the text above, a part of the meeting \"%T\", in JSON: the topics discussed (a short title and a "
    "one-sentence summary each) and the action items (the task, the owner's name and the due date; null when the "
    "text does not say them). Use only what the text says.",
    "List the key points of the text above (a part of the document \"%T\"): the facts, figures, names, dates and decisions "
    "a reader must not miss. One short sentence each. Answer in JSON.",
    "Above are summaries of consecutive parts of the document \"%T\". Combine them into one summary of at most "
    "eight sentences, in order, keeping the names, numbers, dates and decisions. Write only the summary.",
    "Part",
    "You answer questions about the document \"%T\" using only the numbered passages given to you. After each "
    "sentence, cite the passages it uses as [n]. If the passages do not hold the answer, say that the document "
    "does not say. Answer briefly.",
    "Question",
    "I could not find this in the document.",
};

const Words kZh{
    "请用不超过五句话概括上面这段原文（文档《%T》的一部分），保留其中的人名、数字、日期和决定。只写概括。",
    "列出上面这段原文（文档《%T》的一部分）讨论的议题，每个议题给出简短的标题和一句话的概括。用 JSON 回答。",
    "为上面这段原文（会议《%T》的一部分）写会议纪要，用 JSON：讨论的议题（每个议题一个简短标题和一句话概括）"
    "以及待办事项（任务、负责人姓名、截止日期；原文没有说明的写 null）。只使用原文中的内容。",
    "列出上面这段原文（文档《%T》的一部分）的要点：读者不能错过的事实、数字、人名、日期和决定。每条一句话。用 JSON 回答。",
    "上面是文档《%T》各个连续部分的概括。请把它们合并成一段不超过八句话的总概括，按顺序，保留人名、数字、日期和决定。"
    "只写概括。",
    "部分",
    "你根据给出的编号段落回答关于文档《%T》的问题，只使用这些段落。每句话后用 [n] 标出所用的段落。如果段落中没有答案，"
    "就说文档中没有提到。回答要简短。",
    "问题",
    "文档中没有找到这方面的内容。",
};

const Words& words(Lang l) { return l == Lang::Zh ? kZh : kEn; }

std::string fill(const char* tmpl, const std::string& title) {
  std::string s = tmpl;
  const size_t at = s.find("%T");
  if (at != std::string::npos) s.replace(at, 2, title);
  return s;
}

}  // namespace

namespace {

ojson enum_of(const std::vector<std::string>& values, bool nullable) {
  ojson e = ojson::array();
  for (const auto& v : values) e.push_back(v);
  if (nullable) e.push_back(nullptr);
  return {{"enum", e}};
}

ojson topics_schema(const MinutesCues& cues) {
  const ojson title = cues.topics.empty() ? str(80) : enum_of(cues.topics, false);
  return list(object({{"title", title}, {"summary", str(300)}}), 1, 4);
}

}  // namespace

ojson map_schema(Task t, const MinutesCues& cues) {
  switch (t) {
    case Task::Summary: return nullptr;
    case Task::Topics: return object({{"topics", topics_schema(cues)}});
    case Task::KeyPoints: return object({{"key_points", list(str(240), 1, 6)}});
    case Task::Minutes: {
      ojson props = {{"topics", topics_schema(cues)}};
      if (!cues.actions.empty()) {
        std::vector<std::string> tasks, owners = cues.speakers, dates;
        for (const auto& a : cues.actions) {
          tasks.push_back(a.task);
          for (const auto& o : a.owners)
            if (std::find(owners.begin(), owners.end(), o) == owners.end()) owners.push_back(o);
          for (const auto& d : a.dates)
            if (std::find(dates.begin(), dates.end(), d) == dates.end()) dates.push_back(d);
        }
        const ojson owner = owners.empty() ? ojson{{"type", "null"}} : enum_of(owners, true);
        const ojson due = dates.empty() ? ojson{{"type", "null"}} : enum_of(dates, true);
        props["action_items"] = list(object({{"task", enum_of(tasks, false)}, {"owner", owner}, {"due", due}}), 0,
                                     static_cast<int>(std::min<size_t>(tasks.size(), 8)));
      }
      return object(std::move(props));
    }
  }
  return nullptr;
}

std::string map_prompt(Task t, Lang lang, const std::string& doc_title, const std::string& text) {
  const Words& w = words(lang);
  const char* instr = t == Task::Summary ? w.map_summary
                      : t == Task::Topics ? w.map_topics
                      : t == Task::Minutes ? w.map_minutes
                                           : w.map_key_points;
  return std::string(lang == Lang::Zh ? "原文：\n" : "Text:\n") + text + "\n\n" + fill(instr, doc_title);
}

std::string reduce_prompt(Lang lang, const std::string& doc_title, const std::vector<std::string>& parts) {
  const Words& w = words(lang);
  std::string s;
  for (size_t k = 0; k < parts.size(); ++k) s += cat(w.part, " ", k + 1, ":\n", parts[k], "\n\n");
  return s + fill(w.reduce, doc_title);
}

std::string qa_instructions(Lang lang, const std::string& doc_title) { return fill(words(lang).qa, doc_title); }

std::string qa_question(Lang lang, const std::string& passages, const std::string& question) {
  return passages + "\n" + words(lang).question + ": " + question;
}

std::string qa_not_found(Lang lang) { return words(lang).not_found; }

}  // namespace helix::chatfile

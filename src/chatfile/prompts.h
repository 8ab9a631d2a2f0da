// ChatFile's prompts, in English and Chinese. They are written for small models that follow
// instructions poorly: one task per prompt, the text between plain markers, the instruction
// repeated after it, and, wherever the answer has a shape (lists, minutes), a JSON Schema that
// the grammar engine enforces token by token, so the reply always parses.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chatfile/corpus.h"
#include "chatfile/minutes_rules.h"

namespace helix::chatfile {

using ojson = nlohmann::ordered_json;

enum class Task { Summary, Topics, Minutes, KeyPoints };
const char* task_name(Task t);  // "summary", "topics", "minutes", "key_points"

// One user message (the shared templates of small models have no system role of their own).
ojson user_message(const std::string& text);

// The map step: one unit of the document -> a partial result (free text for Summary; JSON
// matching map_schema(task) for the others).
std::string map_prompt(Task t, Lang lang, const std::string& doc_title, const std::string& text);
// The JSON Schema a map reply must match (null for Summary). Topic titles, tasks, owners and due
// dates are limited to the cues found in the unit's text when there are any.
ojson map_schema(Task t, const MinutesCues& cues);
// The reduce step of summaries: partial summaries in document order -> one summary.
std::string reduce_prompt(Lang lang, const std::string& doc_title, const std::vector<std::string>& parts);

// Question answering: the instructions plus the pinned passages (computed once, reused from the
// KV cache for every question), and the question's own message with its retrieved passages.
std::string qa_instructions(Lang lang, const std::string& doc_title);
std::string qa_question(Lang lang, const std::string& passages, const std::string& question);
// "I could not find this in the document." in the language.
std::string qa_not_found(Lang lang);

}  // namespace helix::chatfile

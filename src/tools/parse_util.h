// Helpers shared by the call parsers of the template families (parse.cpp, parse_families.cpp).
#pragma once

#include <string>
#include <string_view>

#include "tools/tools.h"

namespace helix::tools::detail {

inline bool has(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
inline size_t skip_space(std::string_view s, size_t pos) {
  while (pos < s.size() && is_space(s[pos])) ++pos;
  return pos;
}
std::string trim(std::string_view s);

// The end of the JSON object or array that starts at s[pos] ('{' or '['), or npos when the text
// ends first. Strings (with escapes) are skipped, so braces inside them do not count.
size_t json_end(std::string_view s, size_t pos);
// The JSON value at s[pos], or null when there is no complete, valid one; `end` gets its end.
ojson json_at(std::string_view s, size_t pos, size_t& end);
// {"name": ..., "arguments" or "parameters": {...}} (arguments may also be a JSON string holding
// an object); `name_key` names the name's key ("tool_name" for Command R).
bool call_from(const ojson& j, ToolCall& out, const char* name_key = "name");
// A call whose name was read from the syntax around it and whose arguments are the JSON object
// at text[pos] (or an object in a JSON string); `end` gets the end of the arguments.
bool call_with_args_at(std::string name, std::string_view text, size_t pos, size_t& end, ToolCall& out);

// The generic JSON form ({"tool_calls": [...]}) as the whole reply: forced calls of families
// whose call names sit outside the JSON, when more than one tool may be called.
Parsed parse_generic(std::string_view text);

Parsed parse_functionary_v31(std::string_view text);
Parsed parse_functionary_v32(std::string_view text);
Parsed parse_deepseek(std::string_view text);
Parsed parse_command_r(std::string_view text);
Parsed parse_gpt_oss(std::string_view text);

}  // namespace helix::tools::detail

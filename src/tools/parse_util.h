// Helpers shared by the call parsers of the template families (parse.cpp, parse_families.cpp).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
// an object); `name_key` names the name's key ("tool_name" for Command R). With `raw`, the
// object's text, arguments given as an object are that object's text as the model wrote it,
// minified (so a stream of the text gives the same arguments piece by piece).
bool call_from(const ojson& j, ToolCall& out, const char* name_key = "name", std::string_view raw = {});
// Each element of the JSON array at text[pos] as a call (call_from with its raw text); false if
// the array is not complete, valid and made of calls. `end` gets the array's end.
bool calls_in_array(std::string_view text, size_t pos, size_t& end, std::vector<ToolCall>& out,
                    const char* name_key = "name");

// JSON read as it is being written (the streaming of calls, stream.cpp) ----------------------
// The text without the whitespace outside strings; minifying a prefix gives a prefix of the
// whole text's result.
std::string minify_json(std::string_view s);
// The state of a JSON text read piece by piece (minify_json, and CallStream's open arguments):
// nesting depth and whether it is inside a string (after a backslash).
struct JsonScan {
  int depth = 0;
  bool in_str = false, esc = false;
  // Reads `d`, appending it without the whitespace outside strings to `mini`; stops after the
  // character that closes the outermost object or array. Returns the characters read.
  size_t feed(std::string_view d, std::string& mini);
};
// The end of the JSON value at s[pos] (object, array, string or scalar), npos while the text
// ends first; `bad` when it cannot be a value.
size_t value_end(std::string_view s, size_t pos, bool& bad);
struct Member {
  std::string key;
  size_t at = 0;                           // where the value starts
  size_t end = std::string_view::npos;     // past it; npos: not written yet
};
struct Scan {
  std::vector<Member> members;             // objects: the members so far (the last may be unfinished)
  std::vector<std::pair<size_t, size_t>> items;  // arrays: [start, end) of the elements so far (end npos: unfinished)
  size_t end = std::string_view::npos;     // past the closing bracket; npos: not written yet
  bool bad = false;                        // not JSON
};
Scan scan_object(std::string_view s, size_t pos);  // s[pos] == '{'
Scan scan_array(std::string_view s, size_t pos);   // s[pos] == '['
// The text so far of a JSON string literal (s starts with its '"'), decoded; an escape cut by
// the end of the text is left out.
std::string partial_string(std::string_view s);
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

// A reply read while it is being written: what is certain so far. Content and reasoning only
// grow; a call is listed once its name is known, with its arguments' text so far.
struct PartialCall {
  std::string name;
  std::string args;        // raw JSON text of the arguments object so far (minified by the stream)
  bool streamable = true;  // false: the arguments come whole at the end (a JSON string, or before the name)
};
struct Partial {
  std::string content, reasoning;
  std::vector<PartialCall> calls;
  bool hold = false;  // the text stopped being readable as it goes: nothing more until the end
  // Where the text ends, for the stream's incremental update (CallStream::update): in content (or
  // reasoning) that is the text itself up to its end (nothing held back for a marker), inside the still
  // open arguments object of the last call (its args reach the text's end), or elsewhere.
  enum class Tail { kOther, kContent, kReasoning, kArgs };
  Tail tail = Tail::kOther;
};
Partial parse_partial(Family f, bool forced_generic, std::string_view text);
// What the parsers read of a reply (`text` with the plan's prefill): R1's reply gets the <think>
// its prompt opened.
std::string parse_text(const Plan& plan, std::string_view text);

}  // namespace helix::tools::detail

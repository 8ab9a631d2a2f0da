// Python str semantics on UTF-8 std::string, for the chat-template interpreter: code-point
// indexing, whitespace, case mapping, split/strip/find, repr() quoting and float repr().
// Invalid UTF-8 bytes decode to U+DC80..U+DCFF (like Python's surrogateescape) so that a
// decode/encode round trip never loses or invents bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace helix::chat::py {

bool is_ascii(std::string_view s);
std::u32string decode(std::string_view s);
char32_t decode_at(std::string_view s, size_t& i);  // the code point at i; advances i
std::string encode(std::u32string_view s);
void append_utf8(std::string& out, char32_t c);
bool valid_utf8(std::string_view s);
size_t length(std::string_view s);  // in code points

bool isspace(char32_t c);  // str.isspace() for one character
bool isprintable(char32_t c);
bool isalpha(char32_t c);
bool isdigit(char32_t c);
bool isalnum(char32_t c);
bool isupper(char32_t c);
bool islower(char32_t c);
bool iscased(char32_t c);
char32_t toupper(char32_t c);
char32_t tolower(char32_t c);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string swapcase(std::string_view s);
std::string capitalize(std::string_view s);   // str.capitalize()
std::string title(std::string_view s);        // str.title()
std::string jinja_title(std::string_view s);  // Jinja's |title filter (splits on [-\s({[<]+)

// strip/lstrip/rstrip: `chars` nullopt strips Unicode whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                  bool right);
// str.split(sep, maxsplit) / str.rsplit: sep nullopt splits on runs of whitespace.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep,
                               int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep,
                                int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
std::string replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);

// Code-point based searching in [start, end) (Python slice-style bounds, already optional).
int64_t find(std::string_view s, std::string_view sub, std::optional<int64_t> start,
             std::optional<int64_t> end, bool reverse);
int64_t count(std::string_view s, std::string_view sub, std::optional<int64_t> start,
              std::optional<int64_t> end);

// float(s) for a str: optional sign, digits with single '_' between them, fraction, exponent,
// or inf/infinity/nan; surrounding whitespace allowed. nullopt where Python raises ValueError.
std::optional<double> parse_float(std::string_view s);
// int(s, base) for a str, base 0 or 2..36 (prefixes 0x/0o/0b as Python allows them).
std::optional<int64_t> parse_int(std::string_view s, int base);

std::string repr(std::string_view s);  // Python repr() of a str, quotes included
std::string float_repr(double d);      // Python repr() of a float: 1.0, 1e-05, 1e+16, inf, nan

// Python slice indices: normalizes start/stop/step for a sequence of length n and returns the
// selected indices. Throws helix::Error for step 0.
std::vector<int64_t> slice_indices(int64_t n, std::optional<int64_t> start,
                                   std::optional<int64_t> stop, std::optional<int64_t> step);

}  // namespace helix::chat::py

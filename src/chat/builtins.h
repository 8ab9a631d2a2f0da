// The chat-template library: filters, tests, global functions (range, namespace, dict,
// raise_exception, strftime_now, ...) and the methods of str, dict and list, with the
// behaviour of Jinja2 3.1 in Hugging Face's ImmutableSandboxedEnvironment (whose tojson is
// json.dumps with ensure_ascii=False).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "chat/ast.h"
#include "chat/value.h"

namespace helix::chat {

FilterFn find_filter(std::string_view name);  // null if Jinja has no such filter
TestFn find_test(std::string_view name);      // null if Jinja has no such test
std::optional<Value> find_global(std::string_view name);

// Attribute lookup on a str, dict or list as Python's getattr sees it: a bound method, an
// Undefined that refuses use (the sandbox's answer for methods that mutate), or nullopt when
// the type has no such attribute.
std::optional<Value> get_method(const Value& self, const std::string& name);

// Python's printf-style formatting: fmt % args.
std::string percent_format(const std::string& fmt, const Value& args);
// str.format(*args, **kwargs) with the sandbox's restrictions (no attribute access).
std::string brace_format(const std::string& fmt, const CallArgs& args);

// Helpers shared by filters, methods and the interpreter.
std::string soft_str(const Value& v);                // str(v); Undefined gives ''
int64_t to_index(const Value& v, const char* what);  // an int (or bool) argument
std::optional<std::string> opt_str(const std::optional<Value>& v, const char* what);
// Throws (see check_size_limit) if `count` copies of `unit_bytes` would be too large.
void check_repeat(int64_t count, size_t unit_bytes);
// str.replace with the result's size checked before it is built.
std::string checked_replace(const std::string& s, const std::string& old, const std::string& repl,
                            int64_t count);

}  // namespace helix::chat

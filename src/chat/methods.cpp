// Methods of str, dict, list and tuple as templates call them (message.content.split('x'),
// message.get('content'), ...). The immutable sandbox refuses methods that would change a list
// or dict: looking them up yields an Undefined that raises SecurityError's message when used.
#include <algorithm>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/pystr.h"
#include "core/error.h"

namespace helix::chat {

namespace {

using Slots = std::vector<std::optional<Value>>;

const std::string& self_str(const Value& self) { return self.s(); }

std::optional<int64_t> opt_index(const std::optional<Value>& v) {
  if (!v || v->is_none()) return std::nullopt;
  return to_index(*v, "slice index");
}

std::string need_str(const Value& v, const char* fname) {
  if (v.is_string()) return v.s();
  if (v.is_undefined()) fail_undefined(v);
  throw Error(cat(fname, "() argument must be str, not ", type_name(v)));
}

// Code-point substring [start, end) with Python slice bounds; nullopt when start lies past
// the end (where startswith/endswith answer False even for an empty affix).
std::optional<std::string> cp_slice(const std::string& s, std::optional<int64_t> start,
                                    std::optional<int64_t> end) {
  if (!start && !end) return s;
  const std::u32string u = py::decode(s);
  const auto n = static_cast<int64_t>(u.size());
  int64_t b = start.value_or(0), e = end.value_or(n);
  if (b < 0) b = std::max<int64_t>(0, b + n);
  if (e < 0) e = std::max<int64_t>(0, e + n);
  if (b > n) return std::nullopt;
  e = std::min(e, n);
  if (e <= b) return std::string();
  return py::encode(
      std::u32string_view(u).substr(static_cast<size_t>(b), static_cast<size_t>(e - b)));
}

Value affix_test(const Value& self, CallArgs& a, bool start_side, const char* fname) {
  auto s = bind_args(fname, a, {"prefix", "start", "end"}, 1);
  const auto hay_opt = cp_slice(self_str(self), opt_index(s[1]), opt_index(s[2]));
  std::vector<Value> cands = s[0]->is_tuple() ? s[0]->items() : std::vector<Value>{*s[0]};
  for (const auto& c : cands) {
    if (!c.is_string())
      throw Error(cat(fname, " first arg must be str or a tuple of str, not ", type_name(c)));
    if (!hay_opt) continue;
    const std::string& hay = *hay_opt;
    const std::string& x = c.s();
    if (x.size() > hay.size()) continue;
    if (start_side ? hay.compare(0, x.size(), x) == 0
                   : hay.compare(hay.size() - x.size(), x.size(), x) == 0)
      return Value::boolean(true);
  }
  return Value::boolean(false);
}

Value m_startswith(Interpreter&, const Value& self, CallArgs& a) {
  return affix_test(self, a, true, "startswith");
}
Value m_endswith(Interpreter&, const Value& self, CallArgs& a) {
  return affix_test(self, a, false, "endswith");
}

Value finder(const Value& self, CallArgs& a, bool reverse, bool raise, const char* fname) {
  auto s = bind_args(fname, a, {"sub", "start", "end"}, 1);
  const int64_t r =
      py::find(self_str(self), need_str(*s[0], fname), opt_index(s[1]), opt_index(s[2]), reverse);
  if (r < 0 && raise) throw Error("substring not found");
  return Value::integer(r);
}

Value m_find(Interpreter&, const Value& self, CallArgs& a) {
  return finder(self, a, false, false, "find");
}
Value m_rfind(Interpreter&, const Value& self, CallArgs& a) {
  return finder(self, a, true, false, "rfind");
}
Value m_index(Interpreter&, const Value& self, CallArgs& a) {
  return finder(self, a, false, true, "index");
}
Value m_rindex(Interpreter&, const Value& self, CallArgs& a) {
  return finder(self, a, true, true, "rindex");
}

Value m_count(Interpreter&, const Value& self, CallArgs& a) {
  auto s = bind_args("count", a, {"sub", "start", "end"}, 1);
  return Value::integer(
      py::count(self_str(self), need_str(*s[0], "count"), opt_index(s[1]), opt_index(s[2])));
}

Value m_replace(Interpreter& in, const Value& self, CallArgs& a) {
  auto s = bind_args("replace", a, {"old", "new", "count"}, 2);
  const int64_t count = s[2] ? to_index(*s[2], "count") : -1;
  std::string r = checked_replace(self_str(self), need_str(*s[0], "replace"),
                                  need_str(*s[1], "replace"), count);
  in.check_size(r.size());
  return Value::string(std::move(r));
}

Value str_list(const std::vector<std::string>& parts) {
  std::vector<Value> out;
  out.reserve(parts.size());
  for (const auto& p : parts) out.push_back(Value::string(p));
  return Value::list(std::move(out));
}

Value splitter(const Value& self, CallArgs& a, bool right, const char* fname) {
  auto s = bind_args(fname, a, {"sep", "maxsplit"});
  const int64_t maxsplit = s[1] ? to_index(*s[1], "maxsplit") : -1;
  const auto sep = opt_str(s[0], "sep");
  return str_list(right ? py::rsplit(self_str(self), sep, maxsplit)
                        : py::split(self_str(self), sep, maxsplit));
}

Value m_split(Interpreter&, const Value& self, CallArgs& a) {
  return splitter(self, a, false, "split");
}
Value m_rsplit(Interpreter&, const Value& self, CallArgs& a) {
  return splitter(self, a, true, "rsplit");
}

Value m_splitlines(Interpreter&, const Value& self, CallArgs& a) {
  auto s = bind_args("splitlines", a, {"keepends"});
  return str_list(py::splitlines(self_str(self), s[0] && truthy(*s[0])));
}

Value stripper(const Value& self, CallArgs& a, bool l, bool r, const char* fname) {
  auto s = bind_args(fname, a, {"chars"});
  return Value::string(py::strip(self_str(self), opt_str(s[0], fname), l, r));
}

Value m_strip(Interpreter&, const Value& self, CallArgs& a) {
  return stripper(self, a, true, true, "strip");
}
Value m_lstrip(Interpreter&, const Value& self, CallArgs& a) {
  return stripper(self, a, true, false, "lstrip");
}
Value m_rstrip(Interpreter&, const Value& self, CallArgs& a) {
  return stripper(self, a, false, true, "rstrip");
}

Value m_join(Interpreter& in, const Value& self, CallArgs& a) {
  auto s = bind_args("join", a, {"iterable"}, 1);
  std::string out;
  size_t i = 0;
  for (const auto& item : iterate(*s[0])) {
    if (!item.is_string())
      throw Error(cat("sequence item ", i, ": expected str instance, ", type_name(item), " found"));
    if (i++) out += self_str(self);
    out += item.s();
    in.check_size(out.size());
  }
  return Value::string(std::move(out));
}

template <std::string (*F)(std::string_view)>
Value str_map(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("str method", a, {});
  return Value::string(F(self_str(self)));
}

template <bool (*P)(char32_t)>
Value str_all(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("str method", a, {});
  const std::u32string u = py::decode(self_str(self));
  return Value::boolean(!u.empty() && std::all_of(u.begin(), u.end(), P));
}

Value m_isascii(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("isascii", a, {});
  return Value::boolean(py::is_ascii(self_str(self)));
}

Value case_check(const Value& self, bool want_lower) {
  bool cased = false;
  for (char32_t c : py::decode(self_str(self))) {
    if (want_lower ? py::isupper(c) : py::islower(c)) return Value::boolean(false);
    cased |= py::iscased(c);
  }
  return Value::boolean(cased);
}

Value m_islower(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("islower", a, {});
  return case_check(self, true);
}
Value m_isupper(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("isupper", a, {});
  return case_check(self, false);
}

Value m_istitle(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("istitle", a, {});
  bool prev_cased = false, any = false;
  for (char32_t c : py::decode(self_str(self))) {
    if (py::isupper(c)) {
      if (prev_cased) return Value::boolean(false);
      prev_cased = any = true;
    } else if (py::islower(c)) {
      if (!prev_cased) return Value::boolean(false);
      prev_cased = any = true;
    } else {
      prev_cased = false;
    }
  }
  return Value::boolean(any);
}

Value m_isidentifier(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("isidentifier", a, {});
  const std::u32string u = py::decode(self_str(self));
  if (u.empty() || py::isdigit(u[0])) return Value::boolean(false);
  return Value::boolean(
      std::all_of(u.begin(), u.end(), [](char32_t c) { return c == '_' || py::isalnum(c); }));
}

std::string fill_char(const std::optional<Value>& v) {
  if (!v) return " ";
  if (!v->is_string() || py::length(v->s()) != 1)
    throw Error("The fill character must be exactly one character long");
  return v->s();
}

Value justify(const Value& self, CallArgs& a, int side, const char* fname) {
  auto s = bind_args(fname, a, {"width", "fillchar"}, 1);
  const int64_t width = to_index(*s[0], "width");
  const std::string fill = fill_char(s[1]);
  const std::string& str = self_str(self);
  const auto len = static_cast<int64_t>(py::length(str));
  if (width <= len) return self;
  const int64_t pad = width - len;
  check_repeat(pad, fill.size());
  int64_t left = side < 0 ? 0 : side > 0 ? pad : pad / 2 + (pad & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += str;
  for (int64_t i = 0; i < pad - left; ++i) out += fill;
  return Value::string(out);
}

Value m_center(Interpreter&, const Value& self, CallArgs& a) {
  return justify(self, a, 0, "center");
}
Value m_ljust(Interpreter&, const Value& self, CallArgs& a) {
  return justify(self, a, -1, "ljust");
}
Value m_rjust(Interpreter&, const Value& self, CallArgs& a) { return justify(self, a, 1, "rjust"); }

Value m_zfill(Interpreter&, const Value& self, CallArgs& a) {
  auto s = bind_args("zfill", a, {"width"}, 1);
  const int64_t width = to_index(*s[0], "width");
  std::string str = self_str(self);
  const auto len = static_cast<int64_t>(py::length(str));
  if (width <= len) return self;
  check_repeat(width - len, 1);
  std::string sign;
  if (!str.empty() && (str[0] == '+' || str[0] == '-')) {
    sign = str.substr(0, 1);
    str = str.substr(1);
  }
  return Value::string(sign + std::string(static_cast<size_t>(width - len), '0') + str);
}

Value partitioner(const Value& self, CallArgs& a, bool right, const char* fname) {
  auto s = bind_args(fname, a, {"sep"}, 1);
  const std::string sep = need_str(*s[0], fname);
  if (sep.empty()) throw Error("empty separator");
  const std::string& str = self_str(self);
  const size_t p = right ? str.rfind(sep) : str.find(sep);
  if (p == std::string::npos) {
    if (right) return Value::tuple({Value::string(""), Value::string(""), self});
    return Value::tuple({self, Value::string(""), Value::string("")});
  }
  return Value::tuple({Value::string(str.substr(0, p)), Value::string(sep),
                       Value::string(str.substr(p + sep.size()))});
}

Value m_partition(Interpreter&, const Value& self, CallArgs& a) {
  return partitioner(self, a, false, "partition");
}
Value m_rpartition(Interpreter&, const Value& self, CallArgs& a) {
  return partitioner(self, a, true, "rpartition");
}

Value m_removeprefix(Interpreter&, const Value& self, CallArgs& a) {
  auto s = bind_args("removeprefix", a, {"prefix"}, 1);
  const std::string p = need_str(*s[0], "removeprefix");
  const std::string& str = self_str(self);
  return str.compare(0, p.size(), p) == 0 ? Value::string(str.substr(p.size())) : self;
}

Value m_removesuffix(Interpreter&, const Value& self, CallArgs& a) {
  auto s = bind_args("removesuffix", a, {"suffix"}, 1);
  const std::string p = need_str(*s[0], "removesuffix");
  const std::string& str = self_str(self);
  if (!p.empty() && str.size() >= p.size() && str.compare(str.size() - p.size(), p.size(), p) == 0)
    return Value::string(str.substr(0, str.size() - p.size()));
  return self;
}

Value m_format(Interpreter& in, const Value& self, CallArgs& a) {
  std::string r = brace_format(self_str(self), a);
  in.check_size(r.size());
  return Value::string(std::move(r));
}

// --- dict, list, tuple ---------------------------------------------------------------------------

Value d_get(Interpreter&, const Value& self, CallArgs& a) {
  auto s = bind_args("get", a, {"key", "default"}, 1);
  if (!is_hashable(*s[0])) throw Error(cat("unhashable type: '", type_name(*s[0]), "'"));
  if (const Value* v = self.dict().find(*s[0])) return *v;
  return s[1] ? *s[1] : Value::none();
}

Value d_items(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("items", a, {});
  std::vector<Value> out;
  for (const auto& [k, v] : self.dict().items) out.push_back(Value::tuple({k, v}));
  return Value::list(std::move(out));
}

Value d_keys(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("keys", a, {});
  std::vector<Value> out;
  for (const auto& kv : self.dict().items) out.push_back(kv.first);
  return Value::list(std::move(out));
}

Value d_values(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("values", a, {});
  std::vector<Value> out;
  for (const auto& kv : self.dict().items) out.push_back(kv.second);
  return Value::list(std::move(out));
}

Value m_copy(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("copy", a, {});
  return self;  // values are immutable in the sandbox: sharing is copying
}

Value l_count(Interpreter&, const Value& self, CallArgs& a) {
  auto s = bind_args("count", a, {"value"}, 1);
  const auto& items = self.items();
  return Value::integer(
      std::count_if(items.begin(), items.end(), [&](const Value& v) { return equals(v, *s[0]); }));
}

Value l_index(Interpreter&, const Value& self, CallArgs& a) {
  auto s = bind_args("index", a, {"value", "start", "stop"}, 1);
  const auto& items = self.items();
  const auto n = static_cast<int64_t>(items.size());
  int64_t b = opt_index(s[1]).value_or(0), e = opt_index(s[2]).value_or(n);
  if (b < 0) b = std::max<int64_t>(0, b + n);
  if (e < 0) e = std::max<int64_t>(0, e + n);
  for (int64_t i = b; i < std::min(e, n); ++i)
    if (equals(items[static_cast<size_t>(i)], *s[0])) return Value::integer(i);
  throw Error(cat(repr(*s[0]), " is not in ", type_name(self)));
}

struct MethodDef {
  const char* name;
  Function::Fn fn;
};

const MethodDef kStrMethods[] = {
    {"startswith", m_startswith},
    {"endswith", m_endswith},
    {"find", m_find},
    {"rfind", m_rfind},
    {"index", m_index},
    {"rindex", m_rindex},
    {"count", m_count},
    {"replace", m_replace},
    {"split", m_split},
    {"rsplit", m_rsplit},
    {"splitlines", m_splitlines},
    {"strip", m_strip},
    {"lstrip", m_lstrip},
    {"rstrip", m_rstrip},
    {"join", m_join},
    {"upper", str_map<py::upper>},
    {"lower", str_map<py::lower>},
    {"casefold", str_map<py::lower>},
    {"title", str_map<py::title>},
    {"capitalize", str_map<py::capitalize>},
    {"swapcase", str_map<py::swapcase>},
    {"isalpha", str_all<py::isalpha>},
    {"isalnum", str_all<py::isalnum>},
    {"isdigit", str_all<py::isdigit>},
    {"isdecimal", str_all<py::isdigit>},
    {"isnumeric", str_all<py::isdigit>},
    {"isspace", str_all<py::isspace>},
    {"isascii", m_isascii},
    {"islower", m_islower},
    {"isupper", m_isupper},
    {"istitle", m_istitle},
    {"isidentifier", m_isidentifier},
    {"center", m_center},
    {"ljust", m_ljust},
    {"rjust", m_rjust},
    {"zfill", m_zfill},
    {"partition", m_partition},
    {"rpartition", m_rpartition},
    {"removeprefix", m_removeprefix},
    {"removesuffix", m_removesuffix},
    {"format", m_format},
};

const MethodDef kDictMethods[] = {
    {"get", d_get}, {"items", d_items}, {"keys", d_keys}, {"values", d_values}, {"copy", m_copy},
};
const char* const kDictUnsafe[] = {"clear", "pop", "popitem", "setdefault", "update"};

const MethodDef kListMethods[] = {{"count", l_count}, {"index", l_index}, {"copy", m_copy}};
const char* const kListUnsafe[] = {"append", "clear",  "extend",  "insert",
                                   "pop",    "remove", "reverse", "sort"};

const MethodDef kTupleMethods[] = {{"count", l_count}, {"index", l_index}};

template <size_t N>
std::optional<Value> lookup(const MethodDef (&table)[N], const Value& self,
                            const std::string& name) {
  for (const auto& m : table)
    if (name == m.name) return Value::object(std::make_shared<Function>(m.name, m.fn, self));
  return std::nullopt;
}

template <size_t N>
std::optional<Value> unsafe(const char* const (&names)[N], const Value& self,
                            const std::string& name) {
  for (const char* n : names)
    if (name == n)
      return Value::undefined(
          cat("access to attribute '", name, "' of '", type_name(self), "' object is unsafe."),
          true);
  return std::nullopt;
}

}  // namespace

std::optional<Value> get_method(const Value& self, const std::string& name) {
  switch (self.kind()) {
    case Kind::String:
      return lookup(kStrMethods, self, name);
    case Kind::Dict:
      if (auto m = lookup(kDictMethods, self, name)) return m;
      return unsafe(kDictUnsafe, self, name);
    case Kind::List:
      if (auto m = lookup(kListMethods, self, name)) return m;
      return unsafe(kListUnsafe, self, name);
    case Kind::Tuple:
      return lookup(kTupleMethods, self, name);
    default:
      return std::nullopt;
  }
}

}  // namespace helix::chat

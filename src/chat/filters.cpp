// Jinja2 3.1's built-in filters (plus Hugging Face's tojson) for the chat-template interpreter.
// Filters that Jinja returns as generators (map, select, reject, selectattr, rejectattr,
// unique, items, batch, slice, reverse) return one-shot iterators here too, so that printing
// or taking the length of one fails or differs exactly as it does in Jinja.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <unordered_set>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/pystr.h"
#include "core/error.h"

namespace helix::chat {

namespace {

using Slots = std::vector<std::optional<Value>>;

Slots bind(const char* name, CallArgs& args, std::initializer_list<const char*> names,
           size_t required = 0) {
  return bind_args(name, args, names, required);
}

bool flag(const std::optional<Value>& v, bool dflt = false) { return v ? truthy(*v) : dflt; }

// Jinja's attribute path: "a.b.0" looks up a, then b, then item 0.
std::vector<Value> attribute_parts(const std::optional<Value>& attr) {
  std::vector<Value> parts;
  if (!attr || attr->is_none()) return parts;
  if (attr->is_integral()) return {*attr};
  for (const auto& p : py::split(soft_str(*attr), std::string("."), -1)) {
    const bool digits =
        !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
    parts.push_back(digits ? Value::integer(std::stoll(p)) : Value::string(p));
  }
  return parts;
}

Value ignore_case(const Value& v) { return v.is_string() ? Value::string(py::lower(v.s())) : v; }

struct AttrGetter {
  std::vector<Value> parts;
  bool lower = false;
  std::optional<Value> dflt;
  Value operator()(Value item) const {
    for (const auto& p : parts) {
      item = Interpreter::getitem(item, p);
      if (dflt && !dflt->is_none() && item.is_undefined()) item = *dflt;
    }
    return lower ? ignore_case(item) : item;
  }
};

// make_multi_attrgetter: "a,b" sorts by a then b; the key is a list.
Value multi_key(const Value& item, const std::optional<Value>& attribute, bool lower) {
  std::vector<Value> keys;
  std::vector<std::string> fields;
  if (attribute && attribute->is_string()) fields = py::split(attribute->s(), std::string(","), -1);
  if (fields.empty()) {
    keys.push_back(AttrGetter{attribute_parts(attribute), lower, std::nullopt}(item));
  } else {
    for (const auto& f : fields)
      keys.push_back(AttrGetter{attribute_parts(Value::string(f)), lower, std::nullopt}(item));
  }
  return Value::list(std::move(keys));
}

void sort_values(std::vector<Value>& items, std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return reverse ? less(keys[b], keys[a]) : less(keys[a], keys[b]);
  });
  std::vector<Value> out;
  out.reserve(items.size());
  for (size_t i : idx) out.push_back(items[i]);
  items = std::move(out);
}

std::string py_center(const std::string& s, int64_t width, const std::string& fill = " ") {
  const auto len = static_cast<int64_t>(py::length(s));
  if (width <= len) return s;
  const int64_t pad = width - len;
  const int64_t left = pad / 2 + (pad & width & 1);
  check_repeat(pad, fill.size());
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < pad - left; ++i) out += fill;
  return out;
}

// --- filters ---------------------------------------------------------------------------------

Value f_abs(Interpreter&, const Value& v, CallArgs& a) {
  bind("abs", a, {});
  if (v.is_integral()) {
    if (v.i() == INT64_MIN) throw Error("integer overflow");
    return Value::integer(v.i() < 0 ? -v.i() : v.i());
  }
  if (v.is_float()) return Value::number(std::fabs(v.f()));
  throw Error(cat("bad operand type for abs(): '", type_name(v), "'"));
}

Value f_attr(Interpreter&, const Value& v, CallArgs& a) {
  // Python's getattr only: no fallback to item lookup (d|attr("key") is undefined).
  auto s = bind("attr", a, {"name"}, 1);
  const std::string name = soft_str(*s[0]);
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_object()) {
    if (auto r = v.obj()->getattr(name)) return *r;
  } else if (name.empty() || name[0] != '_') {
    if (auto m = get_method(v, name)) return *m;
  }
  return undefined_attr(v, name);
}

Value f_batch(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("batch", a, {"linecount", "fill_with"}, 1);
  const int64_t n = to_index(*s[0], "linecount");
  if (n <= 0) throw Error("batch linecount must be positive");
  std::vector<Value> out, tmp;
  for (auto& item : iterate(v)) {
    if (static_cast<int64_t>(tmp.size()) == n) {
      out.push_back(Value::list(std::move(tmp)));
      tmp.clear();
    }
    tmp.push_back(std::move(item));
  }
  if (!tmp.empty()) {
    if (s[1] && !s[1]->is_none()) check_repeat(n, sizeof(Value));
    if (s[1] && !s[1]->is_none())
      while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(*s[1]);
    out.push_back(Value::list(std::move(tmp)));
  }
  return Value::iterator(std::move(out), "generator");
}

Value f_capitalize(Interpreter&, const Value& v, CallArgs& a) {
  bind("capitalize", a, {});
  return Value::string(py::capitalize(soft_str(v)));
}

Value f_center(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("center", a, {"width"});
  return Value::string(py_center(soft_str(v), s[0] ? to_index(*s[0], "width") : 80));
}

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("default", a, {"default_value", "boolean"});
  const Value dflt = s[0] ? *s[0] : Value::string("");
  if (v.is_undefined() || (flag(s[1]) && !truthy(v))) return dflt;
  return v;
}

Value f_dictsort(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("dictsort", a, {"case_sensitive", "by", "reverse"});
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_dict()) throw Error(cat("'", type_name(v), "' object has no attribute 'items'"));
  const std::string by = s[1] ? soft_str(*s[1]) : "key";
  if (by != "key" && by != "value") throw Error("You can only sort by either \"key\" or \"value\"");
  std::vector<Value> items, keys;
  for (const auto& [k, val] : v.dict().items) {
    items.push_back(Value::tuple({k, val}));
    const Value& key = by == "key" ? k : val;
    keys.push_back(flag(s[0]) ? key : ignore_case(key));
  }
  sort_values(items, keys, flag(s[2]));
  return Value::list(std::move(items));
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

Value f_escape(Interpreter&, const Value& v, CallArgs& a) {
  bind("escape", a, {});
  return Value::string(html_escape(soft_str(v)));
}

Value f_filesizeformat(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("filesizeformat", a, {"value_binary"});
  if (!v.is_number() && !v.is_string())
    throw Error("float() argument must be a string or a real number");
  const double bytes = v.is_string() ? std::stod(v.s()) : v.f();
  const bool binary = flag(s[0]);
  const double base = binary ? 1024 : 1000;
  static const char* const dec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  static const char* const bin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  if (bytes == 1) return Value::string("1 Byte");
  if (bytes < base) return Value::string(cat(static_cast<int64_t>(bytes), " Bytes"));
  char buf[64];
  double unit = base;
  for (int i = 0; i < 8; ++i) {
    unit *= base;
    if (bytes < unit || i == 7) {
      std::snprintf(buf, sizeof buf, "%.1f %s", base * bytes / unit, binary ? bin[i] : dec[i]);
      break;
    }
  }
  return Value::string(buf);
}

Value f_first(Interpreter&, const Value& v, CallArgs& a) {
  bind("first", a, {});
  if (v.is_iterator()) {
    IterState& it = v.iter();
    if (it.pos < it.items.size()) return it.items[it.pos++];
    return Value::undefined("No first item, sequence was empty.");
  }
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("float", a, {"default"});
  const Value dflt = s[0] ? *s[0] : Value::number(0.0);
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value::number(v.f());
  if (v.is_string())
    if (auto d = py::parse_float(v.s())) return Value::number(*d);
  return dflt;
}

Value f_format(Interpreter&, const Value& v, CallArgs& a) {
  if (!a.pos.empty() && !a.kw.empty())
    throw Error("can't handle positional and keyword arguments at the same time");
  if (!a.kw.empty()) {
    Dict d;
    for (auto& [k, val] : a.kw) d.items.emplace_back(Value::string(k), val);
    return Value::string(percent_format(soft_str(v), Value::dict(std::move(d))));
  }
  return Value::string(percent_format(soft_str(v), Value::tuple(a.pos)));
}

Value f_indent(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("indent", a, {"width", "first", "blank"});
  std::string ind = "    ";
  if (s[0] && s[0]->is_string()) {
    ind = s[0]->s();
  } else if (s[0]) {
    const int64_t w = to_index(*s[0], "width");
    check_repeat(w, 1);
    ind = std::string(static_cast<size_t>(std::max<int64_t>(0, w)), ' ');
  }
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_string())
    throw Error(cat("unsupported operand type(s) for +=: '", type_name(v), "' and 'str'"));
  const auto lines = py::splitlines(v.s() + "\n", false);
  check_repeat(static_cast<int64_t>(lines.size()), ind.size() + 1);
  check_size_limit(v.s().size() + lines.size() * (ind.size() + 1));
  std::string rv;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) {
      rv.push_back('\n');
      if (flag(s[2]) || !lines[i].empty()) rv.append(ind);
    }
    rv.append(lines[i]);
  }
  if (flag(s[1])) rv.insert(0, ind);
  return Value::string(rv);
}

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("int", a, {"default", "base"});
  const Value dflt = s[0] ? *s[0] : Value::integer(0);
  const int64_t base = s[1] ? to_index(*s[1], "base") : 10;
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integral()) return Value::integer(v.i());
  auto from_float = [&](double d) {
    if (std::isnan(d)) return dflt;
    if (std::isinf(d)) throw Error("cannot convert float infinity to integer");
    if (std::fabs(d) >= 9.2e18) throw Error("integer too large (Helix integers are 64-bit)");
    return Value::integer(static_cast<int64_t>(d));
  };
  if (v.is_float()) return from_float(v.f());
  if (v.is_string()) {
    if (base >= 0 && base <= 36 && base != 1)
      if (auto i = py::parse_int(v.s(), static_cast<int>(base))) return Value::integer(*i);
    if (auto d = py::parse_float(v.s())) return from_float(*d);
  }
  return dflt;
}

Value f_items(Interpreter&, const Value& v, CallArgs& a) {
  bind("items", a, {});
  if (v.is_undefined()) return Value::iterator({}, "generator");
  if (!v.is_dict()) throw Error("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, val] : v.dict().items) out.push_back(Value::tuple({k, val}));
  return Value::iterator(std::move(out), "generator");
}

Value f_join(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("join", a, {"d", "attribute"});
  const std::string sep = s[0] ? soft_str(*s[0]) : "";
  const AttrGetter get{attribute_parts(s[1]), false, std::nullopt};
  std::string out;
  bool first = true;
  for (const auto& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += to_str(get(item));
    check_size_limit(out.size());
  }
  return Value::string(std::move(out));
}

Value f_last(Interpreter&, const Value& v, CallArgs& a) {
  bind("last", a, {});
  if (v.is_iterator()) throw Error(cat("'", type_name(v), "' object is not reversible"));
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_length(Interpreter&, const Value& v, CallArgs& a) {
  bind("length", a, {});
  return Value::integer(length(v));
}

Value f_list(Interpreter&, const Value& v, CallArgs& a) {
  bind("list", a, {});
  return Value::list(iterate(v));
}

Value f_lower(Interpreter&, const Value& v, CallArgs& a) {
  bind("lower", a, {});
  return Value::string(py::lower(soft_str(v)));
}

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
  std::vector<Value> out;
  if (!truthy(v)) return Value::iterator({}, "generator");  // Jinja: `if value:` first
  if (a.pos.empty() && a.kwarg("attribute")) {
    AttrGetter get;
    for (const auto& [k, val] : a.kw) {
      if (k == "attribute")
        get.parts = attribute_parts(val);
      else if (k == "default")
        get.dflt = val;
      else
        throw Error(cat("Unexpected keyword argument '", k, "'"));
    }
    for (const auto& item : iterate(v)) out.push_back(get(item));
  } else {
    if (a.pos.empty()) throw Error("map requires a filter argument");
    const std::string name = soft_str(a.pos[0]);
    CallArgs rest;
    rest.pos.assign(a.pos.begin() + 1, a.pos.end());
    rest.kw = a.kw;
    for (const auto& item : iterate(v)) {
      CallArgs args = rest;
      out.push_back(in.apply_filter(name, item, args));
    }
  }
  return Value::iterator(std::move(out), "generator");
}

Value min_max(const Value& v, CallArgs& a, bool want_max, const char* name) {
  auto s = bind(name, a, {"case_sensitive", "attribute"});
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const AttrGetter get{attribute_parts(s[1]), !flag(s[0]), std::nullopt};
  size_t best = 0;
  Value best_key = get(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = get(items[i]);
    if (want_max ? less(best_key, k) : less(k, best_key)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

Value f_max(Interpreter&, const Value& v, CallArgs& a) { return min_max(v, a, true, "max"); }
Value f_min(Interpreter&, const Value& v, CallArgs& a) { return min_max(v, a, false, "min"); }

Value f_pprint(Interpreter&, const Value& v, CallArgs& a) {
  bind("pprint", a, {});
  return Value::string(repr(v));
}

Value f_random(Interpreter&, const Value& v, CallArgs& a) {
  bind("random", a, {});
  auto items = iterate(v);
  if (items.empty()) throw Error("Cannot choose from an empty sequence");
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return items[rng() % items.size()];
}

Value select_reject(Interpreter& in, const Value& v, CallArgs& a, bool select, bool by_attr) {
  if (!truthy(v)) return Value::iterator({}, "generator");  // Jinja: `if value:` first
  size_t off = 0;
  AttrGetter get;
  if (by_attr) {
    if (a.pos.empty()) throw Error("Missing parameter for attribute name");
    get.parts = attribute_parts(a.pos[0]);
    off = 1;
  }
  std::optional<std::string> test;
  CallArgs targs;
  if (a.pos.size() > off) {
    test = soft_str(a.pos[off]);
    targs.pos.assign(a.pos.begin() + static_cast<std::ptrdiff_t>(off) + 1, a.pos.end());
    targs.kw = a.kw;
  }
  std::vector<Value> out;
  for (const auto& item : iterate(v)) {
    const Value x = get(item);
    bool ok;
    if (test) {
      CallArgs args = targs;
      ok = in.apply_test(*test, x, args);
    } else {
      ok = truthy(x);
    }
    if (ok == select) out.push_back(item);
  }
  return Value::iterator(std::move(out), "generator");
}

Value f_select(Interpreter& in, const Value& v, CallArgs& a) {
  return select_reject(in, v, a, true, false);
}
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) {
  return select_reject(in, v, a, false, false);
}
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) {
  return select_reject(in, v, a, true, true);
}
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) {
  return select_reject(in, v, a, false, true);
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& a) {
  auto s = bind("replace", a, {"old", "new", "count"}, 2);
  const int64_t count = s[2] && !s[2]->is_none() ? to_index(*s[2], "count") : -1;
  std::string r = checked_replace(soft_str(v), soft_str(*s[0]), soft_str(*s[1]), count);
  in.check_size(r.size());
  return Value::string(std::move(r));
}

Value f_reverse(Interpreter&, const Value& v, CallArgs& a) {
  bind("reverse", a, {});
  if (v.is_string()) {
    std::u32string u = py::decode(v.s());
    std::reverse(u.begin(), u.end());
    return Value::string(py::encode(u));
  }
  auto items = iterate(v);
  std::reverse(items.begin(), items.end());
  if (v.is_list() || v.is_tuple() || v.is_dict() || v.is_undefined())
    return Value::iterator(std::move(items), v.is_dict()    ? "dict_reversekeyiterator"
                                             : v.is_tuple() ? "reversed"
                                                            : "list_reverseiterator");
  return Value::list(std::move(items));
}

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("round", a, {"precision", "method"});
  const int64_t prec = s[0] ? to_index(*s[0], "precision") : 0;
  const std::string method = s[1] ? soft_str(*s[1]) : "common";
  if (method != "common" && method != "ceil" && method != "floor")
    throw Error("method must be common, ceil or floor");
  if (!v.is_number()) throw Error(cat("type ", type_name(v), " doesn't define __round__ method"));
  if (method == "common") {
    if (v.is_integral() && prec >= 0) return Value::integer(v.i());
    if (v.is_integral()) {  // round(int, -n): to a multiple of 10**n, ties to even
      if (prec < -18) return Value::integer(0);
      int64_t p = 1;
      for (int64_t k = 0; k < -prec; ++k) p *= 10;
      int64_t q = v.i() / p, r = v.i() % p;
      if (r < 0) {
        r += p;
        --q;
      }
      if (2 * r > p || (2 * r == p && (q & 1))) ++q;
      return Value::integer(q * p);
    }
    const double x = v.f();
    if (!std::isfinite(x)) return Value::number(x);
    if (prec >= 0 && prec < 300) {
      char buf[400];
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(prec), x);
      return Value::number(std::strtod(buf, nullptr));
    }
    const double p = std::pow(10.0, static_cast<double>(-prec));
    return Value::number(std::nearbyint(x / p) * p);
  }
  const double p = std::pow(10.0, static_cast<double>(prec));
  const double x = v.f() * p;
  return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / p);
}

Value f_safe(Interpreter&, const Value& v, CallArgs& a) {
  bind("safe", a, {});
  return Value::string(soft_str(v));
}

Value f_slice(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("slice", a, {"slices", "fill_with"}, 1);
  const int64_t slices = to_index(*s[0], "slices");
  if (slices <= 0) throw Error("integer division or modulo by zero");
  check_repeat(slices, sizeof(Value));
  const auto seq = iterate(v);
  const auto len = static_cast<int64_t>(seq.size());
  const int64_t per = len / slices, extra = len % slices;
  int64_t offset = 0;
  std::vector<Value> out;
  for (int64_t n = 0; n < slices; ++n) {
    const int64_t start = offset + n * per;
    if (n < extra) ++offset;
    const int64_t end = offset + (n + 1) * per;
    std::vector<Value> tmp(seq.begin() + start, seq.begin() + end);
    if (s[1] && !s[1]->is_none() && n >= extra) tmp.push_back(*s[1]);
    out.push_back(Value::list(std::move(tmp)));
  }
  return Value::iterator(std::move(out), "generator");
}

Value f_sort(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("sort", a, {"reverse", "case_sensitive", "attribute"});
  auto items = iterate(v);
  std::vector<Value> keys;
  for (const auto& item : items) keys.push_back(multi_key(item, s[2], !flag(s[1])));
  sort_values(items, keys, flag(s[0]));
  return Value::list(std::move(items));
}

Value f_string(Interpreter&, const Value& v, CallArgs& a) {
  bind("string", a, {});
  return Value::string(soft_str(v));
}

Value f_striptags(Interpreter&, const Value& v, CallArgs& a) {
  bind("striptags", a, {});
  std::string s = soft_str(v), out;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 4, "<!--") == 0) {
      const size_t e = s.find("-->", i + 4);
      if (e != std::string::npos) {
        i = e + 3;
        continue;
      }
    }
    if (s[i] == '<') {
      const size_t e = s.find('>', i + 1);
      if (e != std::string::npos) {
        i = e + 1;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  const auto words = py::split(out, std::nullopt, -1);
  std::string joined;
  for (size_t i = 0; i < words.size(); ++i) joined += (i ? " " : "") + words[i];
  static const std::pair<const char*, const char*> entities[] = {{"&lt;", "<"},    {"&gt;", ">"},
                                                                 {"&quot;", "\""}, {"&#34;", "\""},
                                                                 {"&#39;", "'"},   {"&amp;", "&"}};
  for (const auto& [from, to] : entities) joined = py::replace(joined, from, to, -1);
  return Value::string(joined);
}

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
  auto s = bind("sum", a, {"attribute", "start"});
  Value total = s[1] ? *s[1] : Value::integer(0);
  if (total.is_string()) throw Error("sum() can't sum strings [use ''.join(seq) instead]");
  const AttrGetter get{attribute_parts(s[0]), false, std::nullopt};
  for (const auto& item : iterate(v)) total = py_binary(BinOp::Add, total, get(item), in);
  return total;
}

Value f_title(Interpreter&, const Value& v, CallArgs& a) {
  bind("title", a, {});
  return Value::string(py::jinja_title(soft_str(v)));
}

// Hugging Face's tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False).
Value f_tojson(Interpreter& in, const Value& v, CallArgs& a) {
  auto s = bind("tojson", a, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions opt;
  opt.ensure_ascii = flag(s[0]);
  if (s[1] && !s[1]->is_none()) {
    if (s[1]->is_string())
      opt.indent = s[1]->s();
    else {
      const int64_t w = to_index(*s[1], "indent");
      check_repeat(w, 1);
      opt.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, w)), ' ');
    }
  }
  if (s[2] && !s[2]->is_none()) {
    const auto seps = iterate(*s[2]);
    if (seps.size() != 2 || !seps[0].is_string() || !seps[1].is_string())
      throw Error("separators must be a pair of strings");
    opt.item_sep = seps[0].s();
    opt.key_sep = seps[1].s();
  }
  opt.sort_keys = flag(s[3]);
  std::string out = dumps(v, opt);
  in.check_size(out.size());
  return Value::string(std::move(out));
}

Value f_trim(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("trim", a, {"chars"});
  return Value::string(py::strip(soft_str(v), opt_str(s[0], "chars"), true, true));
}

Value f_truncate(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("truncate", a, {"length", "killwords", "end", "leeway"});
  const int64_t len = s[0] ? to_index(*s[0], "length") : 255;
  const std::string end = s[2] ? soft_str(*s[2]) : "...";
  const int64_t leeway = s[3] && !s[3]->is_none() ? to_index(*s[3], "leeway") : 5;
  const auto end_len = static_cast<int64_t>(py::length(end));
  if (len < end_len) throw Error(cat("expected length >= ", end_len, ", got ", len));
  if (leeway < 0) throw Error(cat("expected leeway >= 0, got ", leeway));
  const int64_t n = length(v);
  if (n <= len + leeway) return v;
  const std::u32string u = py::decode(soft_str(v));
  std::string head =
      py::encode(std::u32string_view(u).substr(0, static_cast<size_t>(len - end_len)));
  if (!flag(s[1])) head = py::rsplit(head, std::string(" "), 1).front();
  return Value::string(head + end);
}

Value f_unique(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind("unique", a, {"case_sensitive", "attribute"});
  const AttrGetter get{attribute_parts(s[1]), !flag(s[0]), std::nullopt};
  std::vector<Value> out;
  std::unordered_set<std::string> seen;
  for (const auto& item : iterate(v)) {
    const Value key = get(item);
    if (!is_hashable(key)) throw Error(cat("unhashable type: '", type_name(key), "'"));
    if (seen.insert(hash_key(key)).second) out.push_back(item);
  }
  return Value::iterator(std::move(out), "generator");
}

Value f_upper(Interpreter&, const Value& v, CallArgs& a) {
  bind("upper", a, {});
  return Value::string(py::upper(soft_str(v)));
}

std::string url_quote(const std::string& s, bool for_qs) {
  std::string out;
  char buf[4];
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || (!for_qs && c == '/')) {
      out.push_back(ch);
    } else if (for_qs && c == ' ') {
      out.push_back('+');
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

Value f_urlencode(Interpreter&, const Value& v, CallArgs& a) {
  bind("urlencode", a, {});
  if (v.is_string() || !is_iterable(v)) return Value::string(url_quote(soft_str(v), false));
  std::string out;
  std::vector<Value> pairs;
  if (v.is_dict()) {
    for (const auto& [k, val] : v.dict().items) pairs.push_back(Value::tuple({k, val}));
  } else {
    pairs = iterate(v);
  }
  for (const auto& p : pairs) {
    const auto kv = iterate(p);
    if (kv.size() != 2) throw Error("urlencode expects pairs");
    if (!out.empty()) out += "&";
    out += url_quote(soft_str(kv[0]), true) + "=" + url_quote(soft_str(kv[1]), true);
  }
  return Value::string(out);
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs& a) {
  bind("wordcount", a, {});
  int64_t n = 0;
  bool in_word = false;
  for (char32_t c : py::decode(soft_str(v))) {
    const bool w = c == '_' || py::isalnum(c);
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

Value f_unsupported(Interpreter&, const Value&, CallArgs&) {
  throw Error("this filter is not supported by Helix's template engine");
}

struct FilterDef {
  const char* name;
  FilterFn fn;
};

const FilterDef kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"batch", f_batch},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"filesizeformat", f_filesizeformat},
    {"first", f_first},
    {"float", f_float},
    {"forceescape", f_escape},
    {"format", f_format},
    {"groupby", f_unsupported},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"pprint", f_pprint},
    {"random", f_random},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"slice", f_slice},
    {"sort", f_sort},
    {"string", f_string},
    {"striptags", f_striptags},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"truncate", f_truncate},
    {"unique", f_unique},
    {"upper", f_upper},
    {"urlencode", f_urlencode},
    {"urlize", f_unsupported},
    {"wordcount", f_wordcount},
    {"wordwrap", f_unsupported},
    {"xmlattr", f_unsupported},
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (const auto& f : kFilters)
    if (name == f.name) return f.fn;
  return nullptr;
}

}  // namespace helix::chat

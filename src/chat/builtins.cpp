// Jinja2's tests and global functions, Hugging Face's raise_exception and strftime_now, and
// the small argument helpers the library shares.
#include "chat/builtins.h"

#include <ctime>

#include "chat/interpreter.h"
#include "chat/pystr.h"
#include "core/error.h"

namespace helix::chat {

std::string soft_str(const Value& v) { return to_str(v); }

int64_t to_index(const Value& v, const char* what) {
  if (v.is_integral()) return v.i();
  if (v.is_undefined()) fail_undefined(v);
  throw Error(cat("'", type_name(v), "' object cannot be interpreted as an integer (", what, ")"));
}

std::optional<std::string> opt_str(const std::optional<Value>& v, const char* what) {
  if (!v || v->is_none()) return std::nullopt;
  if (v->is_undefined()) fail_undefined(*v);
  if (!v->is_string()) throw Error(cat(what, " arg must be None or str"));
  return v->s();
}

void check_repeat(int64_t count, size_t unit_bytes) {
  if (count <= 0) return;
  const auto n = static_cast<uint64_t>(count);
  if (unit_bytes && n > (UINT64_MAX / 2) / unit_bytes) check_size_limit(SIZE_MAX);
  check_size_limit(static_cast<size_t>(n * unit_bytes));
}

std::string checked_replace(const std::string& s, const std::string& old, const std::string& repl,
                            int64_t count) {
  if (repl.size() > old.size()) {
    int64_t n = old.empty() ? static_cast<int64_t>(py::length(s)) + 1
                            : py::count(s, old, std::nullopt, std::nullopt);
    if (count >= 0) n = std::min(n, count);
    check_repeat(n, repl.size() - old.size());
    check_size_limit(s.size() + static_cast<size_t>(n) * (repl.size() - old.size()));
  }
  return py::replace(s, old, repl, count);
}

namespace {

using Slots = std::vector<std::optional<Value>>;

// --- tests ---------------------------------------------------------------------------------------

Value one_arg(const char* name, CallArgs& a) {
  auto s = bind_args(name, a, {"other"}, 1);
  return *s[0];
}

bool t_defined(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("defined", a, {});
  return !v.is_undefined();
}
bool t_undefined(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("undefined", a, {});
  return v.is_undefined();
}
bool t_none(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("none", a, {});
  return v.is_none();
}
bool t_boolean(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("boolean", a, {});
  return v.is_bool();
}
bool t_true(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("true", a, {});
  return v.is_bool() && v.b();
}
bool t_false(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("false", a, {});
  return v.is_bool() && !v.b();
}
bool t_integer(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("integer", a, {});
  return v.is_int();
}
bool t_float(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("float", a, {});
  return v.is_float();
}
bool t_number(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("number", a, {});
  return v.is_number();
}
bool t_string(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("string", a, {});
  return v.is_string();
}
bool t_mapping(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("mapping", a, {});
  return v.is_dict();
}
// len() and __getitem__ both exist: str, list, tuple, dict, and Undefined.
bool t_sequence(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("sequence", a, {});
  return v.is_string() || v.is_seq() || v.is_dict() || v.is_undefined();
}
bool t_iterable(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("iterable", a, {});
  return is_iterable(v);
}
bool t_callable(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("callable", a, {});
  return v.is_undefined() || (v.is_object() && v.obj()->callable());  // Undefined has __call__
}
bool t_escaped(Interpreter&, const Value&, CallArgs& a) {
  bind_args("escaped", a, {});
  return false;
}
bool case_test(const Value& v, bool want_lower) {
  bool cased = false;
  for (char32_t c : py::decode(soft_str(v))) {
    if (want_lower ? py::isupper(c) : py::islower(c)) return false;
    cased |= want_lower ? py::islower(c) : py::isupper(c);
  }
  return cased;
}
bool t_lower(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("lower", a, {});
  return case_test(v, true);
}
bool t_upper(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("upper", a, {});
  return case_test(v, false);
}
bool t_odd(Interpreter& in, const Value& v, CallArgs& a) {
  bind_args("odd", a, {});
  return equals(py_binary(BinOp::Mod, v, Value::integer(2), in), Value::integer(1));
}
bool t_even(Interpreter& in, const Value& v, CallArgs& a) {
  bind_args("even", a, {});
  return equals(py_binary(BinOp::Mod, v, Value::integer(2), in), Value::integer(0));
}
bool t_divisibleby(Interpreter& in, const Value& v, CallArgs& a) {
  auto s = bind_args("divisibleby", a, {"num"}, 1);
  return equals(py_binary(BinOp::Mod, v, *s[0], in), Value::integer(0));
}
bool t_in(Interpreter&, const Value& v, CallArgs& a) {
  auto s = bind_args("in", a, {"seq"}, 1);
  return py_contains(*s[0], v);
}
bool t_eq(Interpreter&, const Value& v, CallArgs& a) { return equals(v, one_arg("eq", a)); }
bool t_ne(Interpreter&, const Value& v, CallArgs& a) { return !equals(v, one_arg("ne", a)); }
bool t_lt(Interpreter&, const Value& v, CallArgs& a) { return less(v, one_arg("lt", a), "<"); }
bool t_gt(Interpreter&, const Value& v, CallArgs& a) {
  const Value o = one_arg("gt", a);
  return less(o, v, ">");
}
bool t_le(Interpreter&, const Value& v, CallArgs& a) {
  const Value o = one_arg("le", a);
  return less(v, o, "<=") || equals(v, o);
}
bool t_ge(Interpreter&, const Value& v, CallArgs& a) {
  const Value o = one_arg("ge", a);
  return less(o, v, ">=") || equals(v, o);
}
bool t_sameas(Interpreter&, const Value& v, CallArgs& a) {
  const Value o = one_arg("sameas", a);
  if (v.kind() != o.kind()) return false;
  switch (v.kind()) {
    case Kind::None:
    case Kind::Bool:
      return equals(v, o);
    case Kind::Int:
      return v.i() == o.i() && v.i() >= -5 && v.i() <= 256;  // CPython's small ints
    case Kind::Float:
      return false;
    default:
      return v.identity() == o.identity();
  }
}
bool t_filter(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("filter", a, {});
  return v.is_string() && find_filter(v.s()) != nullptr;
}
bool t_test(Interpreter&, const Value& v, CallArgs& a) {
  bind_args("test", a, {});
  return v.is_string() && find_test(v.s()) != nullptr;
}

struct TestDef {
  const char* name;
  TestFn fn;
};

const TestDef kTests[] = {
    {"odd", t_odd},
    {"even", t_even},
    {"divisibleby", t_divisibleby},
    {"defined", t_defined},
    {"undefined", t_undefined},
    {"filter", t_filter},
    {"test", t_test},
    {"none", t_none},
    {"boolean", t_boolean},
    {"false", t_false},
    {"true", t_true},
    {"integer", t_integer},
    {"float", t_float},
    {"lower", t_lower},
    {"upper", t_upper},
    {"string", t_string},
    {"mapping", t_mapping},
    {"number", t_number},
    {"sequence", t_sequence},
    {"iterable", t_iterable},
    {"callable", t_callable},
    {"sameas", t_sameas},
    {"escaped", t_escaped},
    {"in", t_in},
    {"==", t_eq},
    {"eq", t_eq},
    {"equalto", t_eq},
    {"!=", t_ne},
    {"ne", t_ne},
    {">", t_gt},
    {"gt", t_gt},
    {"greaterthan", t_gt},
    {">=", t_ge},
    {"ge", t_ge},
    {"<", t_lt},
    {"lt", t_lt},
    {"lessthan", t_lt},
    {"<=", t_le},
    {"le", t_le},
};

// --- globals -------------------------------------------------------------------------------------

constexpr int64_t kMaxRange = 100000;  // the sandbox's MAX_RANGE

Value g_range(Interpreter&, const Value&, CallArgs& a) {
  if (!a.kw.empty()) throw Error("range() takes no keyword arguments");
  if (a.pos.empty() || a.pos.size() > 3)
    throw Error(cat("range expected at least 1 argument, got ", a.pos.size()));
  int64_t start = 0, stop = 0, step = 1;
  if (a.pos.size() == 1) {
    stop = to_index(a.pos[0], "stop");
  } else {
    start = to_index(a.pos[0], "start");
    stop = to_index(a.pos[1], "stop");
    if (a.pos.size() == 3) step = to_index(a.pos[2], "step");
  }
  if (step == 0) throw Error("range() arg 3 must not be zero");
  const double n = std::ceil((static_cast<double>(stop) - static_cast<double>(start)) /
                             static_cast<double>(step));
  if (n > kMaxRange)
    throw Error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
    out.push_back(Value::integer(i));
  return Value::list(std::move(out));
}

void fill_pairs(Dict& out, const CallArgs& a, const char* fname) {
  if (a.pos.size() > 1) throw Error(cat(fname, " expected at most 1 argument, got ", a.pos.size()));
  if (!a.pos.empty()) {
    const Value& src = a.pos[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.dict().items) out.set(k, v);
    } else {
      for (const auto& item : iterate(src)) {
        const auto kv = iterate(item);
        if (kv.size() != 2)
          throw Error(
              cat(fname, " update sequence element has length ", kv.size(), "; 2 is required"));
        if (!is_hashable(kv[0])) throw Error(cat("unhashable type: '", type_name(kv[0]), "'"));
        out.set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : a.kw) out.set(Value::string(k), v);
}

Value g_dict(Interpreter&, const Value&, CallArgs& a) {
  Dict d;
  fill_pairs(d, a, "dict");
  return Value::dict(std::move(d));
}

Value g_namespace(Interpreter& in, const Value&, CallArgs& a) {
  Dict pairs;
  fill_pairs(pairs, a, "namespace");
  auto ns = std::make_shared<Namespace>();
  for (auto& [k, v] : pairs.items) {
    if (!k.is_string()) throw Error("namespace keywords must be strings");
    ns->attrs.emplace_back(k.s(), std::move(v));
  }
  in.track(ns);
  return Value::object(ns);
}

Value g_raise_exception(Interpreter&, const Value&, CallArgs& a) {
  auto s = bind_args("raise_exception", a, {"message"}, 1);
  throw Error(soft_str(*s[0]));
}

Value g_strftime_now(Interpreter&, const Value&, CallArgs& a) {
  auto s = bind_args("strftime_now", a, {"format"}, 1);
  if (!s[0]->is_string()) throw Error("strftime() argument 1 must be str");
  const std::string& fmt = s[0]->s();
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  for (size_t cap = 256; cap <= (size_t{1} << 20); cap *= 4) {
    std::string buf(cap, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n > 0 || fmt.empty()) return Value::string(buf.substr(0, n));
  }
  return Value::string("");
}

class Cycler : public Object {
 public:
  std::vector<Value> items;
  size_t pos = 0;
  std::string type_name() const override { return "Cycler"; }
  std::optional<Value> getattr(const std::string& name) const override;
};

Value cycler_next(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("next", a, {});
  auto* c = static_cast<Cycler*>(self.obj());
  Value v = c->items[c->pos];
  c->pos = (c->pos + 1) % c->items.size();
  return v;
}

Value cycler_reset(Interpreter&, const Value& self, CallArgs& a) {
  bind_args("reset", a, {});
  static_cast<Cycler*>(self.obj())->pos = 0;
  return Value::none();
}

std::optional<Value> Cycler::getattr(const std::string& name) const {
  if (name == "current") return items[pos];
  if (name == "next")
    return Value::object(std::make_shared<Function>("next", &cycler_next, self()));
  if (name == "reset")
    return Value::object(std::make_shared<Function>("reset", &cycler_reset, self()));
  return std::nullopt;
}

Value g_cycler(Interpreter&, const Value&, CallArgs& a) {
  if (a.pos.empty()) throw Error("at least one item has to be provided");
  auto c = std::make_shared<Cycler>();
  c->items = a.pos;
  return Value::object(c);
}

class Joiner : public Object {
 public:
  explicit Joiner(std::string sep) : sep_(std::move(sep)) {}
  std::string type_name() const override { return "Joiner"; }
  bool callable() const override { return true; }
  Value call(Interpreter&, CallArgs&) override {
    if (!used_) {
      used_ = true;
      return Value::string("");
    }
    return Value::string(sep_);
  }

 private:
  std::string sep_;
  bool used_ = false;
};

Value g_joiner(Interpreter&, const Value&, CallArgs& a) {
  auto s = bind_args("joiner", a, {"sep"});
  return Value::object(std::make_shared<Joiner>(s[0] ? soft_str(*s[0]) : ", "));
}

Value g_lipsum(Interpreter&, const Value&, CallArgs&) {
  throw Error("lipsum() is not supported by Helix's template engine");
}

struct GlobalDef {
  const char* name;
  Function::Fn fn;
};

const GlobalDef kGlobals[] = {
    {"range", g_range},
    {"dict", g_dict},
    {"namespace", g_namespace},
    {"cycler", g_cycler},
    {"joiner", g_joiner},
    {"lipsum", g_lipsum},
    {"raise_exception", g_raise_exception},
    {"strftime_now", g_strftime_now},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const auto& t : kTests)
    if (name == t.name) return t.fn;
  return nullptr;
}

std::optional<Value> find_global(std::string_view name) {
  for (const auto& g : kGlobals)
    if (name == g.name) return Value::object(std::make_shared<Function>(g.name, g.fn));
  return std::nullopt;
}

}  // namespace helix::chat

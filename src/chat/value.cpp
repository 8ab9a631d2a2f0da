// Values of the chat-template language and their Python semantics: truth, str(), repr(),
// equality, ordering, iteration, len(), JSON in (nlohmann, order kept) and out (json.dumps).
#include "chat/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/pystr.h"
#include "core/error.h"

namespace helix::chat {

namespace {

template <typename T>
std::shared_ptr<void> share(T v) {
  return std::make_shared<T>(std::move(v));
}

constexpr int kMaxNesting = 512;  // json.dumps / repr depth, like Python's recursion limit

// A namespace that holds itself prints as "<Namespace {...}>", as Python's dict repr does for a
// cycle: these are the namespaces being printed on this thread.
thread_local std::vector<const Namespace*> t_printing;

std::string seq_repr(const Value& v, int depth);

}  // namespace

std::string repr(const Value& v, int depth) {
  if (depth > kMaxNesting) throw Error("maximum recursion depth exceeded while getting the repr");
  switch (v.kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return v.b() ? "True" : "False";
    case Kind::Int:
      return std::to_string(v.i());
    case Kind::Float:
      return py::float_repr(v.f());
    case Kind::String:
      return py::repr(v.s());
    case Kind::List:
    case Kind::Tuple:
      return seq_repr(v, depth);
    case Kind::Dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, val] : v.dict().items) {
        if (!first) out += ", ";
        first = false;
        out += repr(k, depth + 1) + ": " + repr(val, depth + 1);
        check_size_limit(out.size());
      }
      return out + "}";
    }
    case Kind::Iterator:
      return "<" + v.iter().type_name + " object>";
    case Kind::Object:
      return v.obj()->repr(depth);
  }
  return "";
}

namespace {

std::string seq_repr(const Value& v, int depth) {
  const bool tuple = v.is_tuple();
  std::string out = tuple ? "(" : "[";
  const auto& items = v.items();
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += repr(items[i], depth + 1);
    check_size_limit(out.size());
  }
  if (tuple && items.size() == 1) out += ",";
  return out + (tuple ? ")" : "]");
}

int compare_seq(const std::vector<Value>& a, const std::vector<Value>& b, const char* op) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (equals(a[i], b[i])) continue;
    return less(a[i], b[i], op) ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out.push_back('"');
  char buf[16];
  for (char32_t c : py::decode(s)) {
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
      if (c >= 0x10000) {
        const char32_t v = c - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                      static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      py::append_utf8(out, c);
    }
  }
  out.push_back('"');
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return py::float_repr(d);
}

struct Dumper {
  const JsonDumpOptions& opt;
  std::string item_sep, key_sep;
  std::string out;

  void newline(int level) {
    out.push_back('\n');
    check_size_limit(out.size() + static_cast<size_t>(level) * opt.indent->size());
    for (int i = 0; i < level; ++i) out += *opt.indent;
  }

  void dump(const Value& v, int level) {
    if (level > kMaxNesting)
      throw Error("maximum recursion depth exceeded while encoding a JSON object");
    check_size_limit(out.size());
    switch (v.kind()) {
      case Kind::None:
        out += "null";
        return;
      case Kind::Bool:
        out += v.b() ? "true" : "false";
        return;
      case Kind::Int:
        out += std::to_string(v.i());
        return;
      case Kind::Float:
        out += json_float(v.f());
        return;
      case Kind::String:
        json_string(out, v.s(), opt.ensure_ascii);
        return;
      case Kind::List:
      case Kind::Tuple: {
        const auto& items = v.items();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out.push_back('[');
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (opt.indent) newline(level + 1);
          dump(items[i], level + 1);
        }
        if (opt.indent) newline(level);
        out.push_back(']');
        return;
      }
      case Kind::Dict: {
        const auto& d = v.dict();
        if (d.items.empty()) {
          out += "{}";
          return;
        }
        std::vector<const std::pair<Value, Value>*> items;
        for (const auto& kv : d.items) items.push_back(&kv);
        if (opt.sort_keys)
          std::stable_sort(items.begin(), items.end(),
                           [](auto* a, auto* b) { return less(a->first, b->first); });
        out.push_back('{');
        bool first = true;
        for (const auto* kv : items) {
          if (!first) out += item_sep;
          first = false;
          if (opt.indent) newline(level + 1);
          const Value& k = kv->first;
          std::string key;
          if (k.is_string())
            key = k.s();
          else if (k.is_float())
            key = json_float(k.f());
          else if (k.is_bool())
            key = k.b() ? "true" : "false";
          else if (k.is_none())
            key = "null";
          else if (k.is_int())
            key = std::to_string(k.i());
          else
            throw Error(cat("keys must be str, int, float, bool or None, not ", type_name(k)));
          json_string(out, key, opt.ensure_ascii);
          out += key_sep;
          dump(kv->second, level + 1);
        }
        if (opt.indent) newline(level);
        out.push_back('}');
        return;
      }
      default:
        throw Error(cat("Object of type ", type_name(v), " is not JSON serializable"));
    }
  }
};

}  // namespace

// --- Dict, CallArgs -----------------------------------------------------------------------------

namespace {

constexpr size_t kIndexFrom = 8;  // dicts up to this size are searched linearly
thread_local size_t g_size_limit = size_t{64} << 20;

}  // namespace

std::optional<size_t> Dict::locate(const Value& key) const {
  if (items.size() <= kIndexFrom) {
    for (size_t i = 0; i < items.size(); ++i)
      if (equals(items[i].first, key)) return i;
    return std::nullopt;
  }
  for (; indexed_ < items.size(); ++indexed_)
    index_.emplace(hash_key(items[indexed_].first), indexed_);
  const auto it = index_.find(hash_key(key));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

const Value* Dict::find(const Value& key) const {
  const auto i = locate(key);
  return i ? &items[*i].second : nullptr;
}

const Value* Dict::find(std::string_view key) const {
  if (items.size() <= kIndexFrom) {
    for (const auto& kv : items)
      if (kv.first.is_string() && kv.first.s() == key) return &kv.second;
    return nullptr;
  }
  return find(Value::string(std::string(key)));
}

void Dict::set(Value key, Value value) {
  if (const auto i = locate(key)) {
    items[*i].second = std::move(value);
    return;
  }
  items.emplace_back(std::move(key), std::move(value));
}

std::string hash_key(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "U";
    case Kind::None:
      return "N";
    case Kind::Bool:
    case Kind::Int:
      return "i" + std::to_string(v.i());
    case Kind::Float: {
      const double d = v.f();
      if (d == std::floor(d) && std::fabs(d) < 9.2e18)
        return "i" + std::to_string(static_cast<int64_t>(d));
      return "f" + py::float_repr(d);
    }
    case Kind::String:
      return "s" + v.s();
    case Kind::Tuple: {
      std::string out = "t" + std::to_string(v.items().size()) + ":";
      for (const auto& x : v.items()) {
        const std::string k = hash_key(x);
        out += std::to_string(k.size()) + ":" + k;
      }
      return out;
    }
    case Kind::Iterator:
    case Kind::Object:
      return "o" + std::to_string(reinterpret_cast<uintptr_t>(v.identity()));
    default:
      return "r" + repr(v);  // unhashable: callers check is_hashable first
  }
}

void check_size_limit(size_t bytes) {
  if (bytes > g_size_limit)
    throw Error(cat("output or string too large (limit ", g_size_limit, " bytes)"));
}

SizeLimit::SizeLimit(size_t bytes) : saved_(g_size_limit) { g_size_limit = bytes; }
SizeLimit::~SizeLimit() { g_size_limit = saved_; }

const Value* CallArgs::kwarg(std::string_view name) const {
  for (const auto& kv : kw)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

// --- Value ---------------------------------------------------------------------------------------

Value Value::undefined(std::string message, bool unsafe) {
  Value v;
  v.p_ = share(UndefInfo{std::move(message), unsafe});
  return v;
}
Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.b_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::Int;
  v.i_ = i;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::Float;
  v.f_ = d;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.p_ = share(std::move(s));
  return v;
}
Value Value::list(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::List;
  v.p_ = share(std::move(items));
  return v;
}
Value Value::tuple(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::Tuple;
  v.p_ = share(std::move(items));
  return v;
}
Value Value::dict(Dict d) {
  Value v;
  v.kind_ = Kind::Dict;
  v.p_ = share(std::move(d));
  return v;
}
Value Value::iterator(std::vector<Value> items, std::string type_name) {
  Value v;
  v.kind_ = Kind::Iterator;
  v.p_ = share(IterState{std::move(items), 0, std::move(type_name)});
  return v;
}
Value Value::object(std::shared_ptr<Object> o) {
  Value v;
  v.kind_ = Kind::Object;
  v.p_ = std::move(o);
  return v;
}

const std::string& Value::s() const { return *static_cast<const std::string*>(p_.get()); }
const std::vector<Value>& Value::items() const {
  return *static_cast<const std::vector<Value>*>(p_.get());
}
const Dict& Value::dict() const { return *static_cast<const Dict*>(p_.get()); }
IterState& Value::iter() const { return *static_cast<IterState*>(p_.get()); }
Object* Value::obj() const { return static_cast<Object*>(p_.get()); }
std::shared_ptr<Object> Value::obj_ptr() const { return std::static_pointer_cast<Object>(p_); }
const UndefInfo* Value::undef() const { return static_cast<const UndefInfo*>(p_.get()); }

// --- Objects -------------------------------------------------------------------------------------

Value Object::self() const {
  return Value::object(std::const_pointer_cast<Object>(shared_from_this()));
}

std::string Object::repr(int) const { return "<" + type_name() + " object>"; }
std::optional<Value> Object::getattr(const std::string&) const { return std::nullopt; }
Value Object::call(Interpreter&, CallArgs&) {
  throw Error(cat("'", type_name(), "' object is not callable"));
}

std::string Namespace::repr(int depth) const {
  if (std::find(t_printing.begin(), t_printing.end(), this) != t_printing.end()) return "<Namespace {...}>";
  t_printing.push_back(this);
  struct Pop {
    ~Pop() { t_printing.pop_back(); }
  } pop;
  std::string out = "<Namespace {";
  bool first = true;
  for (const auto& [k, v] : attrs) {
    if (!first) out += ", ";
    first = false;
    out += py::repr(k) + ": " + chat::repr(v, depth + 1);
  }
  return out + "}>";
}

std::optional<Value> Namespace::getattr(const std::string& name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return v;
  return std::nullopt;
}

void Namespace::setattr(const std::string& name, Value v) {
  for (auto& kv : attrs) {
    if (kv.first == name) {
      kv.second = std::move(v);
      return;
    }
  }
  attrs.emplace_back(name, std::move(v));
}

std::string Function::repr(int) const { return "<built-in method " + name_ + ">"; }

// --- Python semantics ----------------------------------------------------------------------------

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return "list";
    case Kind::Tuple:
      return "tuple";
    case Kind::Dict:
      return "dict";
    case Kind::Iterator:
      return v.iter().type_name;
    case Kind::Object:
      return v.obj()->type_name();
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  return type_name(v) + " object";
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return v.b();
    case Kind::Int:
      return v.i() != 0;
    case Kind::Float:
      return v.f() != 0.0;
    case Kind::String:
      return !v.s().empty();
    case Kind::List:
    case Kind::Tuple:
      return !v.items().empty();
    case Kind::Dict:
      return !v.dict().items.empty();
    case Kind::Iterator:
    case Kind::Object:
      return true;
  }
  return false;
}

std::string to_str(const Value& v) {
  if (v.is_string()) return v.s();
  if (v.is_undefined()) return "";
  return repr(v);
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.f() == b.f();
    return a.i() == b.i();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return true;
    case Kind::String:
      return a.s() == b.s();
    case Kind::List:
    case Kind::Tuple: {
      const auto &x = a.items(), &y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equals(x[i], y[i])) return false;
      return true;
    }
    case Kind::Dict: {
      const auto &x = a.dict(), &y = b.dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, val] : x.items) {
        const Value* other = y.find(k);
        if (!other || !equals(val, *other)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

bool less(const Value& a, const Value& b, const char* op) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.f() < b.f();
    return a.i() < b.i();
  }
  if (a.is_string() && b.is_string()) return a.s() < b.s();
  if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple()))
    return compare_seq(a.items(), b.items(), op) < 0;
  throw Error(cat("'", op, "' not supported between instances of '", type_name(a), "' and '",
                  type_name(b), "'"));
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return {};
    case Kind::String: {
      check_size_limit(v.s().size() * sizeof(Value));
      std::vector<Value> out;
      std::string ch;
      for (char32_t c : py::decode(v.s())) {
        ch.clear();
        py::append_utf8(ch, c);
        out.push_back(Value::string(ch));
      }
      return out;
    }
    case Kind::List:
    case Kind::Tuple:
      return v.items();
    case Kind::Dict: {
      std::vector<Value> out;
      for (const auto& kv : v.dict().items) out.push_back(kv.first);
      return out;
    }
    case Kind::Iterator: {
      IterState& it = v.iter();
      std::vector<Value> out(it.items.begin() + static_cast<std::ptrdiff_t>(it.pos),
                             it.items.end());
      it.pos = it.items.size();
      return out;
    }
    default:
      throw Error(cat("'", type_name(v), "' object is not iterable"));
  }
}

bool is_iterable(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::String:
    case Kind::List:
    case Kind::Tuple:
    case Kind::Dict:
    case Kind::Iterator:
      return true;
    default:
      return false;
  }
}

int64_t length(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return 0;
    case Kind::String:
      return static_cast<int64_t>(py::length(v.s()));
    case Kind::List:
    case Kind::Tuple:
      return static_cast<int64_t>(v.items().size());
    case Kind::Dict:
      return static_cast<int64_t>(v.dict().items.size());
    default:
      throw Error(cat("object of type '", type_name(v), "' has no len()"));
  }
}

bool is_hashable(const Value& v) {
  if (v.is_list() || v.is_dict()) return false;
  if (v.is_tuple())
    return std::all_of(v.items().begin(), v.items().end(),
                       [](const Value& x) { return is_hashable(x); });
  return true;
}

void fail_undefined(const Value& v) {
  const UndefInfo* u = v.undef();
  throw Error(u ? u->message : std::string("undefined value"));
}

Value undefined_name(const std::string& name) {
  return Value::undefined(cat("'", name, "' is undefined"));
}

Value undefined_attr(const Value& obj, const std::string& attr) {
  return Value::undefined(cat("'", object_type_repr(obj), "' has no attribute '", attr, "'"));
}

Value undefined_item(const Value& obj, const Value& key) {
  if (key.is_string()) return undefined_attr(obj, key.s());
  return Value::undefined(cat(object_type_repr(obj), " has no element ", repr(key)));
}

namespace {

constexpr int kMaxJsonDepth = 256;  // like Python's json recursion limit; keeps the stack small

Value from_json_at(const nlohmann::ordered_json& j, int depth) {
  if (depth > kMaxJsonDepth) throw Error("chat template data nested too deeply");
  using T = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case T::null:
      return Value::none();
    case T::boolean:
      return Value::boolean(j.get<bool>());
    case T::number_integer:
      return Value::integer(j.get<int64_t>());
    case T::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value::integer(static_cast<int64_t>(u));
      return Value::number(static_cast<double>(u));
    }
    case T::number_float:
      return Value::number(j.get<double>());
    case T::string:
      return Value::string(j.get<std::string>());
    case T::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json_at(e, depth + 1));
      return Value::list(std::move(items));
    }
    case T::object: {
      Dict d;
      d.items.reserve(j.size());
      for (const auto& [k, e] : j.items())
        d.items.emplace_back(Value::string(k), from_json_at(e, depth + 1));
      return Value::dict(std::move(d));
    }
    default:
      return Value::none();  // binary, discarded: not produced by JSON text
  }
}

}  // namespace

Value from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

std::string dumps(const Value& v, const JsonDumpOptions& opt) {
  Dumper d{opt, opt.item_sep.value_or(opt.indent ? "," : ", "), opt.key_sep.value_or(": "), {}};
  d.dump(v, 0);
  return std::move(d.out);
}

std::vector<std::optional<Value>> bind_args(const std::string& fname, const CallArgs& args,
                                            std::initializer_list<const char*> names,
                                            size_t required) {
  std::vector<std::optional<Value>> out(names.size());
  if (args.pos.size() > names.size())
    throw Error(cat(fname, "() takes at most ", names.size(), " argument(s) (", args.pos.size(),
                    " given)"));
  for (size_t i = 0; i < args.pos.size(); ++i) out[i] = args.pos[i];
  for (const auto& [k, v] : args.kw) {
    size_t idx = 0;
    for (const char* n : names) {
      if (k == n) break;
      ++idx;
    }
    if (idx == names.size())
      throw Error(cat(fname, "() got an unexpected keyword argument '", k, "'"));
    if (out[idx]) throw Error(cat(fname, "() got multiple values for argument '", k, "'"));
    out[idx] = v;
  }
  size_t idx = 0;
  for (const char* n : names) {
    if (idx < required && !out[idx])
      throw Error(cat(fname, "() missing required argument '", n, "'"));
    ++idx;
  }
  return out;
}

}  // namespace helix::chat

// Values of the chat-template language: Python objects as Jinja sees them. None, bools, ints,
// floats, strings, lists, tuples, dicts (insertion-ordered), one-shot iterators (what Jinja's
// generator filters return), Undefined (with the message an invalid use reports) and objects
// (namespaces, macros, functions, the loop variable). Lists, dicts and strings are shared and
// immutable, as the immutable sandbox makes them, so copying a Value is cheap.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace helix::chat {

class Value;
class Object;
class Interpreter;

// An insertion-ordered dict. Entries are only ever appended (or their values replaced), so
// a hash index over Python-equal keys is kept up to date lazily for lookups in large dicts.
struct Dict {
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(Value key, Value value);  // replaces in place or appends

 private:
  std::optional<size_t> locate(const Value& key) const;
  mutable std::unordered_map<std::string, size_t> index_;
  mutable size_t indexed_ = 0;
};

struct IterState {
  std::vector<Value> items;
  size_t pos = 0;
  std::string type_name;  // "generator", "list_reverseiterator", ...
};

struct UndefInfo {
  std::string message;  // what using the value reports
  bool unsafe = false;  // a sandbox refusal rather than a missing value
};

enum class Kind : uint8_t {
  Undefined,
  None,
  Bool,
  Int,
  Float,
  String,
  List,
  Tuple,
  Dict,
  Iterator,
  Object
};

class Value {
 public:
  Value() : i_(0) {}
  static Value undefined(std::string message, bool unsafe = false);
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value dict(Dict d);
  static Value iterator(std::vector<Value> items, std::string type_name);
  static Value object(std::shared_ptr<Object> o);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_integral() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }
  bool is_number() const { return is_integral() || kind_ == Kind::Float; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_tuple() const { return kind_ == Kind::Tuple; }
  bool is_seq() const { return kind_ == Kind::List || kind_ == Kind::Tuple; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_iterator() const { return kind_ == Kind::Iterator; }
  bool is_object() const { return kind_ == Kind::Object; }

  bool b() const { return b_; }
  int64_t i() const { return kind_ == Kind::Bool ? (b_ ? 1 : 0) : i_; }  // Int or Bool
  double f() const { return kind_ == Kind::Float ? f_ : static_cast<double>(i()); }
  const std::string& s() const;
  const std::vector<Value>& items() const;  // List or Tuple
  const Dict& dict() const;
  IterState& iter() const;
  Object* obj() const;
  std::shared_ptr<Object> obj_ptr() const;
  const UndefInfo* undef() const;  // null for a plain Undefined
  const void* identity() const { return p_.get(); }

 private:
  Kind kind_ = Kind::Undefined;
  union {
    bool b_;
    int64_t i_;
    double f_;
  };
  std::shared_ptr<void> p_;
};

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  const Value* kwarg(std::string_view name) const;
};

// Objects with behaviour: attribute lookup, calling, printing.
class Object : public std::enable_shared_from_this<Object> {
 public:
  virtual ~Object() = default;
  // This object as a Value (objects are always owned by a shared_ptr).
  Value self() const;
  virtual std::string type_name() const = 0;  // Python class name, for messages
  // repr(); `depth` is how deeply nested the object is in what is being printed (values it holds
  // print at depth + 1, through chat::repr(value, depth)).
  virtual std::string repr(int depth) const;
  virtual std::optional<Value> getattr(const std::string& name) const;
  virtual bool callable() const { return false; }
  virtual Value call(Interpreter& in, CallArgs& args);
  // Drops the references this object holds. Objects that can take part in a reference cycle
  // (namespaces, macros and their scopes) are released when a render ends, so none leak.
  virtual void release() {}
};

// Jinja's namespace(): the one mutable object (attribute assignment via {% set ns.x = ... %}).
class Namespace : public Object {
 public:
  std::vector<std::pair<std::string, Value>> attrs;
  std::string type_name() const override { return "Namespace"; }
  std::string repr(int depth) const override;
  std::optional<Value> getattr(const std::string& name) const override;
  void setattr(const std::string& name, Value v);
  void release() override { attrs.clear(); }
};

// Builtin functions and bound methods.
class Function : public Object {
 public:
  using Fn = Value (*)(Interpreter&, const Value& self, CallArgs&);
  Function(std::string name, Fn fn, Value self = Value())
      : name_(std::move(name)), fn_(fn), self_(std::move(self)) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  std::string repr(int depth) const override;
  bool callable() const override { return true; }
  Value call(Interpreter& in, CallArgs& args) override { return fn_(in, self_, args); }

 private:
  std::string name_;
  Fn fn_;
  Value self_;
};

// Python semantics.
std::string type_name(const Value& v);         // 'int', 'str', 'list', 'NoneType', ...
std::string object_type_repr(const Value& v);  // Jinja's wording: "dict object", "None"
bool truthy(const Value& v);
std::string to_str(const Value& v);  // str()
// repr(); `depth` is how deeply the value is nested in what is being printed (past 512 levels it
// throws, as Python's recursion limit does).
std::string repr(const Value& v, int depth = 0);
bool equals(const Value& a, const Value& b);
// <, <=, >, >= between a and b; op is the Python operator text for the TypeError message.
bool less(const Value& a, const Value& b, const char* op = "<");
std::vector<Value> iterate(const Value& v);  // list(v); consumes iterators
int64_t length(const Value& v);              // len(v)
bool is_iterable(const Value& v);
bool is_hashable(const Value& v);
[[noreturn]] void fail_undefined(const Value& v);  // raises what using v raises

// Undefined values as Jinja words them.
Value undefined_name(const std::string& name);
Value undefined_attr(const Value& obj, const std::string& attr);
Value undefined_item(const Value& obj, const Value& key);

// A string that is equal for exactly the Python-equal hashable values (1, 1.0 and True alike).
std::string hash_key(const Value& v);

// The largest string or list (in bytes) that may be built: set for the duration of a render
// (Limits::max_output), checked by everything that builds big values (repr, JSON, joins,
// padding, repetition), so that no template can exhaust memory.
void check_size_limit(size_t bytes);
class SizeLimit {
 public:
  explicit SizeLimit(size_t bytes);
  ~SizeLimit();
  SizeLimit(const SizeLimit&) = delete;
  SizeLimit& operator=(const SizeLimit&) = delete;

 private:
  size_t saved_;
};

Value from_json(const nlohmann::ordered_json& j);

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // nullopt: single line
  std::optional<std::string> item_sep, key_sep;
  bool sort_keys = false;
};
std::string dumps(const Value& v, const JsonDumpOptions& opt);  // json.dumps

// Binds call arguments to named parameters like a Python signature: one slot per name.
// Throws for too many positional arguments, unknown or repeated keywords, and missing required
// ones (the first `required` names).
std::vector<std::optional<Value>> bind_args(const std::string& fname, const CallArgs& args,
                                            std::initializer_list<const char*> names,
                                            size_t required = 0);

}  // namespace helix::chat

// Expression evaluation for the chat-template interpreter, and Python's operators: arithmetic
// with int/float/str/list semantics (ints are 64-bit; overflow is an error where Python would
// grow a big int), comparison chains, `in`, attribute and item lookup as the sandbox does them.
#include <cmath>
#include <limits>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/pystr.h"
#include "core/error.h"

namespace helix::chat {

namespace {

[[noreturn]] void unsupported(const char* op, const Value& a, const Value& b) {
  throw Error(cat("unsupported operand type(s) for ", op, ": '", type_name(a), "' and '",
                  type_name(b), "'"));
}

const char* op_text(BinOp op) {
  switch (op) {
    case BinOp::Add:
      return "+";
    case BinOp::Sub:
      return "-";
    case BinOp::Mul:
      return "*";
    case BinOp::Div:
      return "/";
    case BinOp::FloorDiv:
      return "//";
    case BinOp::Mod:
      return "%";
    case BinOp::Pow:
      return "**";
  }
  return "?";
}

[[noreturn]] void overflow() { throw Error("integer overflow (Helix integers are 64-bit)"); }

Value int_op(BinOp op, int64_t a, int64_t b) {
  int64_t r = 0;
  switch (op) {
    case BinOp::Add:
      if (__builtin_add_overflow(a, b, &r)) overflow();
      return Value::integer(r);
    case BinOp::Sub:
      if (__builtin_sub_overflow(a, b, &r)) overflow();
      return Value::integer(r);
    case BinOp::Mul:
      if (__builtin_mul_overflow(a, b, &r)) overflow();
      return Value::integer(r);
    case BinOp::Div:
      if (b == 0) throw Error("division by zero");
      return Value::number(static_cast<double>(a) / static_cast<double>(b));
    case BinOp::FloorDiv: {
      if (b == 0) throw Error("integer division or modulo by zero");
      if (a == INT64_MIN && b == -1) overflow();
      int64_t q = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
      return Value::integer(q);
    }
    case BinOp::Mod: {
      if (b == 0) throw Error("integer modulo by zero");
      if (b == -1) return Value::integer(0);
      int64_t m = a % b;
      if (m != 0 && ((m < 0) != (b < 0))) m += b;
      return Value::integer(m);
    }
    case BinOp::Pow: {
      if (b < 0) {
        if (a == 0) throw Error("0.0 cannot be raised to a negative power");
        return Value::number(std::pow(static_cast<double>(a), static_cast<double>(b)));
      }
      int64_t result = 1, base = a;
      while (b > 0) {
        if ((b & 1) && __builtin_mul_overflow(result, base, &result)) overflow();
        b >>= 1;
        if (b > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
      }
      return Value::integer(result);
    }
  }
  return Value();
}

Value float_op(BinOp op, double a, double b) {
  switch (op) {
    case BinOp::Add:
      return Value::number(a + b);
    case BinOp::Sub:
      return Value::number(a - b);
    case BinOp::Mul:
      return Value::number(a * b);
    case BinOp::Div:
      if (b == 0) throw Error("float division by zero");
      return Value::number(a / b);
    case BinOp::FloorDiv:
    case BinOp::Mod: {
      if (b == 0) throw Error(op == BinOp::Mod ? "float modulo" : "float floor division by zero");
      double mod = std::fmod(a, b);
      double div = (a - mod) / b;
      if (mod != 0) {
        if ((b < 0) != (mod < 0)) {
          mod += b;
          div -= 1.0;
        }
      } else {
        mod = std::copysign(0.0, b);
      }
      if (op == BinOp::Mod) return Value::number(mod);
      double floordiv;
      if (div != 0) {
        floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
      } else {
        floordiv = std::copysign(0.0, a / b);
      }
      return Value::number(floordiv);
    }
    case BinOp::Pow:
      if (a == 0 && b < 0) throw Error("0.0 cannot be raised to a negative power");
      if (a < 0 && b != std::floor(b)) throw Error("complex results are not supported");
      return Value::number(std::pow(a, b));
  }
  return Value();
}

template <typename T>
T repeat(const T& unit, int64_t n, const Interpreter& in, size_t unit_bytes) {
  T out;
  if (n <= 0 || unit.empty()) return out;
  if (static_cast<uint64_t>(n) > in.limits().max_output / std::max<size_t>(unit_bytes, 1))
    in.check_size(SIZE_MAX);
  out.reserve(unit.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), unit.begin(), unit.end());
  return out;
}

}  // namespace

Value py_binary(BinOp op, const Value& a, const Value& b, const Interpreter& in) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return float_op(op, a.f(), b.f());
    return int_op(op, a.i(), b.i());
  }
  switch (op) {
    case BinOp::Add:
      if (a.is_string() && b.is_string()) {
        in.check_size(a.s().size() + b.s().size());
        return Value::string(a.s() + b.s());
      }
      if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple())) {
        in.check_size((a.items().size() + b.items().size()) * sizeof(Value));
        std::vector<Value> items = a.items();
        items.insert(items.end(), b.items().begin(), b.items().end());
        return a.is_list() ? Value::list(std::move(items)) : Value::tuple(std::move(items));
      }
      break;
    case BinOp::Mul: {
      const Value* seq = a.is_integral() ? &b : &a;
      const Value* n = a.is_integral() ? &a : &b;
      if (!n->is_integral()) break;
      if (seq->is_string()) return Value::string(repeat(seq->s(), n->i(), in, seq->s().size()));
      if (seq->is_seq()) {
        auto items = repeat(seq->items(), n->i(), in, seq->items().size() * sizeof(Value));
        return seq->is_list() ? Value::list(std::move(items)) : Value::tuple(std::move(items));
      }
      break;
    }
    case BinOp::Mod:
      if (a.is_string()) {
        std::string s = percent_format(a.s(), b);
        in.check_size(s.size());
        return Value::string(std::move(s));
      }
      break;
    default:
      break;
  }
  unsupported(op_text(op), a, b);
}

Value py_neg(const Value& v, bool negate) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integral()) {
    if (!negate) return Value::integer(v.i());
    if (v.i() == INT64_MIN) overflow();
    return Value::integer(-v.i());
  }
  if (v.is_float()) return Value::number(negate ? -v.f() : v.f());
  throw Error(cat("bad operand type for unary ", negate ? "-" : "+", ": '", type_name(v), "'"));
}

bool py_contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::String:
      if (!item.is_string())
        throw Error(cat("'in <string>' requires string as left operand, not ", type_name(item)));
      return container.s().find(item.s()) != std::string::npos;
    case Kind::List:
    case Kind::Tuple:
      for (const auto& v : container.items())
        if (equals(v, item)) return true;
      return false;
    case Kind::Dict:
      if (!is_hashable(item)) throw Error(cat("unhashable type: '", type_name(item), "'"));
      return container.dict().find(item) != nullptr;
    case Kind::Iterator: {
      IterState& it = container.iter();
      while (it.pos < it.items.size())
        if (equals(it.items[it.pos++], item)) return true;
      return false;
    }
    case Kind::Undefined:
      return false;
    default:
      throw Error(cat("argument of type '", type_name(container), "' is not iterable"));
  }
}

namespace {

// Dunder attributes every Python object has: the sandbox answers them with an unsafe Undefined.
bool universal_dunder(const std::string& name) {
  static const char* const names[] = {"__class__",
                                      "__doc__",
                                      "__init__",
                                      "__new__",
                                      "__str__",
                                      "__repr__",
                                      "__hash__",
                                      "__eq__",
                                      "__ne__",
                                      "__dir__",
                                      "__getattribute__",
                                      "__setattr__",
                                      "__delattr__",
                                      "__reduce__",
                                      "__reduce_ex__",
                                      "__sizeof__",
                                      "__format__",
                                      "__subclasshook__",
                                      "__init_subclass__",
                                      "__lt__",
                                      "__le__",
                                      "__gt__",
                                      "__ge__"};
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

}  // namespace

Value Interpreter::getattr(const Value& obj, const std::string& name) {
  if (!name.empty() && name[0] == '_' && universal_dunder(name))
    return Value::undefined(
        cat("access to attribute '", name, "' of '", type_name(obj), "' object is unsafe."), true);
  switch (obj.kind()) {
    case Kind::Undefined:
      fail_undefined(obj);
    case Kind::Object:
      if (auto v = obj.obj()->getattr(name)) return *v;
      return undefined_attr(obj, name);
    case Kind::Dict:
      if (name.empty() || name[0] != '_') {
        if (auto m = get_method(obj, name)) return *m;
      }
      if (const Value* v = obj.dict().find(std::string_view(name))) return *v;
      return undefined_attr(obj, name);
    default:
      if (name.empty() || name[0] != '_') {
        if (auto m = get_method(obj, name)) return *m;
      }
      return undefined_attr(obj, name);
  }
}

Value Interpreter::getitem(const Value& obj, const Value& key) {
  auto by_name = [&]() -> Value {
    if (key.is_string() && !key.s().empty() && key.s()[0] != '_') {
      if (obj.is_object()) {
        if (auto v = obj.obj()->getattr(key.s())) return *v;
      } else if (auto m = get_method(obj, key.s())) {
        return *m;
      }
    }
    return undefined_item(obj, key);
  };
  switch (obj.kind()) {
    case Kind::Undefined:
      fail_undefined(obj);
    case Kind::Dict:
      if (is_hashable(key))
        if (const Value* v = obj.dict().find(key)) return *v;
      return by_name();
    case Kind::List:
    case Kind::Tuple: {
      if (!key.is_integral()) return by_name();
      const auto& items = obj.items();
      int64_t i = key.i();
      const auto n = static_cast<int64_t>(items.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return undefined_item(obj, key);
      return items[static_cast<size_t>(i)];
    }
    case Kind::String: {
      if (!key.is_integral()) return by_name();
      const std::u32string u = py::decode(obj.s());
      int64_t i = key.i();
      const auto n = static_cast<int64_t>(u.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return undefined_item(obj, key);
      return Value::string(py::encode(std::u32string(1, u[static_cast<size_t>(i)])));
    }
    default:
      return by_name();
  }
}

Value Interpreter::eval_item(const Expr& e, const ScopePtr& scope) {
  const Value obj = eval(*e.a, scope);
  if (e.b->kind != ExprKind::Slice) {
    const Value key = eval(*e.b, scope);
    line_ = e.line;
    return getitem(obj, key);
  }
  // Jinja compiles a slice to Python's own obj[a:b:c] (not env.getitem): errors propagate.
  const Expr& sl = *e.b;
  std::vector<Value> parts;
  for (const ExprPtr* p : {&sl.a, &sl.b, &sl.c})
    parts.push_back(*p ? eval(**p, scope) : Value::none());
  line_ = e.line;
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_dict()) throw Error("unhashable type: 'slice'");
  if (!obj.is_seq() && !obj.is_string())
    throw Error(cat("'", type_name(obj), "' object is not subscriptable"));
  std::optional<int64_t> bounds[3];
  for (size_t i = 0; i < 3; ++i) {
    if (parts[i].is_none()) continue;
    if (!parts[i].is_integral())
      throw Error("slice indices must be integers or None or have an __index__ method");
    bounds[i] = parts[i].i();
  }
  const auto start = bounds[0], stop = bounds[1], step = bounds[2];
  if (obj.is_string()) {
    const std::u32string u = py::decode(obj.s());
    std::u32string out;
    for (int64_t i : py::slice_indices(static_cast<int64_t>(u.size()), start, stop, step))
      out.push_back(u[static_cast<size_t>(i)]);
    return Value::string(py::encode(out));
  }
  const auto& items = obj.items();
  std::vector<Value> out;
  for (int64_t i : py::slice_indices(static_cast<int64_t>(items.size()), start, stop, step))
    out.push_back(items[static_cast<size_t>(i)]);
  return obj.is_list() ? Value::list(std::move(out)) : Value::tuple(std::move(out));
}

Value Interpreter::eval_binary(const Expr& e, const ScopePtr& scope) {
  const Value a = eval(*e.a, scope);
  const Value b = eval(*e.b, scope);
  line_ = e.line;
  if (e.op == BinOp::Pow && e.value.is_bool())  // see parse_pow: -(|a| ** b)
    return py_neg(py_binary(e.op, py_neg(a, true), b, *this), true);
  return py_binary(e.op, a, b, *this);
}

Value Interpreter::eval_compare(const Expr& e, const ScopePtr& scope) {
  Value left = eval(*e.a, scope);
  for (const auto& [op, expr] : e.ops) {
    Value right = eval(*expr, scope);
    line_ = e.line;
    bool r = false;
    switch (op) {
      case CmpOp::Eq:
        r = equals(left, right);
        break;
      case CmpOp::Ne:
        r = !equals(left, right);
        break;
      case CmpOp::Lt:
        r = less(left, right, "<");
        break;
      case CmpOp::Le:
        r = less(left, right, "<=") || equals(left, right);
        break;
      case CmpOp::Gt:
        r = less(right, left, ">");
        break;
      case CmpOp::Ge:
        r = less(right, left, ">=") || equals(left, right);
        break;
      case CmpOp::In:
      case CmpOp::NotIn:
        step(work_size(right));
        r = py_contains(right, left) == (op == CmpOp::In);
        break;
    }
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value Interpreter::eval(const Expr& e, const ScopePtr& scope) {
  line_ = e.line;
  switch (e.kind) {
    case ExprKind::Const:
      return e.value;
    case ExprKind::Name: {
      if (const Value* v = scope->lookup(e.name)) return *v;
      if (auto g = find_global(e.name)) return *g;
      return undefined_name(e.name);
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const auto& it : e.items) items.push_back(eval(*it, scope));
      return e.kind == ExprKind::List ? Value::list(std::move(items))
                                      : Value::tuple(std::move(items));
    }
    case ExprKind::Dict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value k = eval(*e.items[i], scope);
        Value v = eval(*e.items[i + 1], scope);
        line_ = e.line;
        if (!is_hashable(k)) throw Error(cat("unhashable type: '", type_name(k), "'"));
        d.set(std::move(k), std::move(v));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::Attr: {
      const Value obj = eval(*e.a, scope);
      line_ = e.line;
      return getattr(obj, e.name);
    }
    case ExprKind::Item:
      return eval_item(e, scope);
    case ExprKind::Slice:
      throw Error("slice outside a subscript");
    case ExprKind::Call: {
      const Value callee = eval(*e.a, scope);
      CallArgs args;
      eval_args(e.args, scope, args);
      line_ = e.line;
      return call(callee, args);
    }
    case ExprKind::Filter: {
      const Value operand = e.a ? eval(*e.a, scope) : Value();
      CallArgs args;
      eval_args(e.args, scope, args);
      line_ = e.line;
      if (!e.filter) throw Error(cat("No filter named '", e.name, "' found."));
      step(1 + work_size(operand));
      return e.filter(*this, operand, args);
    }
    case ExprKind::Test: {
      const Value operand = eval(*e.a, scope);
      CallArgs args;
      eval_args(e.args, scope, args);
      line_ = e.line;
      if (!e.test) throw Error(cat("No test named '", e.name, "' found."));
      return Value::boolean(e.test(*this, operand, args));
    }
    case ExprKind::Not:
      return Value::boolean(!truthy(eval(*e.a, scope)));
    case ExprKind::Neg:
    case ExprKind::Pos: {
      const Value v = eval(*e.a, scope);
      line_ = e.line;
      return py_neg(v, e.kind == ExprKind::Neg);
    }
    case ExprKind::Binary:
      return eval_binary(e, scope);
    case ExprKind::And: {
      Value l = eval(*e.a, scope);
      if (!truthy(l)) return l;
      return eval(*e.b, scope);
    }
    case ExprKind::Or: {
      Value l = eval(*e.a, scope);
      if (truthy(l)) return l;
      return eval(*e.b, scope);
    }
    case ExprKind::Concat: {
      std::string s;
      for (const auto& it : e.items) {
        s += to_str(eval(*it, scope));
        check_size(s.size());
      }
      return Value::string(std::move(s));
    }
    case ExprKind::Compare:
      return eval_compare(e, scope);
    case ExprKind::Cond:
      if (truthy(eval(*e.a, scope))) return eval(*e.b, scope);
      if (e.c) return eval(*e.c, scope);
      return Value::undefined(cat("the inline if-expression on line ", e.line,
                                  " evaluated to false and no else section was defined."));
  }
  return Value();
}

}  // namespace helix::chat

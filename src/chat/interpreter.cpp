// The chat-template interpreter (see interpreter.h): statements, scopes, macros and calls.
// Expressions are evaluated in interpreter_eval.cpp, operators in interpreter_ops.cpp.
#include "chat/interpreter.h"

#include <new>

#include "chat/builtins.h"
#include "core/error.h"

namespace helix::chat {

namespace {

ScopePtr child(const ScopePtr& parent) {
  auto s = std::make_shared<Scope>();
  s->parent = parent;
  return s;
}

// A macro (or the caller of a {% call %} block) bound to the scope it was defined in.
class Macro : public Object {
 public:
  Macro(const Stmt* def, std::string name, ScopePtr closure)
      : def_(def), name_(std::move(name)), closure_(std::move(closure)) {}
  std::string type_name() const override { return "Macro"; }
  std::string repr(int) const override { return "<Macro '" + name_ + "'>"; }
  bool callable() const override { return true; }
  Value call(Interpreter& in, CallArgs& args) override {
    if (!closure_) throw Error(cat("macro '", name_, "' called after its template finished"));
    return in.call_macro(*def_, name_, closure_, args);
  }
  void release() override { closure_.reset(); }

 private:
  const Stmt* def_;
  std::string name_;
  ScopePtr closure_;
};

// Jinja's LoopContext: the `loop` variable of a for loop.
class Loop : public Object {
 public:
  explicit Loop(std::vector<Value> items) : items(std::move(items)) {}
  std::vector<Value> items;
  size_t index = 0;
  Value last_changed;
  bool changed_called = false;

  std::string type_name() const override { return "LoopContext"; }
  std::string repr(int) const override {
    return cat("<LoopContext ", index + 1, "/", items.size(), ">");
  }
  std::optional<Value> getattr(const std::string& name) const override;
};

Value loop_cycle(Interpreter&, const Value& self, CallArgs& args) {
  auto* loop = static_cast<Loop*>(self.obj());
  if (args.pos.empty()) throw Error("no items for cycling given");
  return args.pos[loop->index % args.pos.size()];
}

Value loop_changed(Interpreter&, const Value& self, CallArgs& args) {
  auto* loop = static_cast<Loop*>(self.obj());
  Value v = Value::tuple(args.pos);
  if (loop->changed_called && equals(loop->last_changed, v)) return Value::boolean(false);
  loop->changed_called = true;
  loop->last_changed = v;
  return Value::boolean(true);
}

std::optional<Value> Loop::getattr(const std::string& name) const {
  const auto n = static_cast<int64_t>(items.size());
  const auto i = static_cast<int64_t>(index);
  if (name == "index") return Value::integer(i + 1);
  if (name == "index0") return Value::integer(i);
  if (name == "revindex") return Value::integer(n - i);
  if (name == "revindex0") return Value::integer(n - i - 1);
  if (name == "first") return Value::boolean(i == 0);
  if (name == "last") return Value::boolean(i == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(1);
  if (name == "depth0") return Value::integer(0);
  if (name == "previtem")
    return i > 0 ? items[index - 1] : Value::undefined("there is no previous item");
  if (name == "nextitem")
    return i + 1 < n ? items[index + 1] : Value::undefined("there is no next item");
  if (name == "cycle")
    return Value::object(std::make_shared<Function>("cycle", &loop_cycle, self()));
  if (name == "changed")
    return Value::object(std::make_shared<Function>("changed", &loop_changed, self()));
  return std::nullopt;
}

}  // namespace

// --- Scope ---------------------------------------------------------------------------------------

const Value* Scope::lookup(std::string_view name) const {
  for (const Scope* s = this; s; s = s->parent.get())
    for (const auto& kv : s->vars)
      if (kv.first == name) return &kv.second;
  return nullptr;
}

void Scope::set(std::string_view name, Value v) {
  for (auto& kv : vars) {
    if (kv.first == name) {
      kv.second = std::move(v);
      return;
    }
  }
  vars.emplace_back(std::string(name), std::move(v));
}

// --- Interpreter ---------------------------------------------------------------------------------

std::string Interpreter::render(const Program& prog, const ScopePtr& globals) {
  std::string out;
  out_ = &out;
  steps_ = 0;
  call_depth_ = 0;
  line_ = 1;
  struct Release {  // break reference cycles (scope -> macro -> scope, namespace -> itself)
    std::vector<std::shared_ptr<Object>>& objs;
    ~Release() {
      for (auto& o : objs) o->release();
      objs.clear();
    }
  } release{tracked_};
  const SizeLimit size_limit(limits_.max_output);
  try {
    exec_body(prog.body, child(globals));
  } catch (const std::bad_alloc&) {
    throw Error(cat("template line ", line_, ": out of memory"));
  } catch (const std::length_error&) {
    throw Error(cat("template line ", line_, ": value too large"));
  } catch (const std::exception& e) {
    throw Error(cat("template line ", line_, ": ", e.what()));
  }
  out_ = nullptr;
  return out;
}

void Interpreter::check_size(size_t n) const { check_size_limit(n); }

void Interpreter::step(uint64_t n) {
  steps_ += n;
  if (steps_ > limits_.max_steps)
    throw Error(cat("template ran too long (more than ", limits_.max_steps, " steps)"));
}

uint64_t work_size(const Value& v) {
  switch (v.kind()) {
    case Kind::String:
      return v.s().size() / 64;
    case Kind::List:
    case Kind::Tuple:
      return v.items().size() / 8;
    case Kind::Dict:
      return v.dict().items.size() / 8;
    case Kind::Iterator:
      return (v.iter().items.size() - v.iter().pos) / 8;
    default:
      return 0;
  }
}

void Interpreter::emit(const std::string& s) {
  out_->append(s);
  check_size(out_->size());
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const ScopePtr& scope) {
  for (const auto& s : body) {
    const Flow f = exec(*s, scope);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

std::string Interpreter::capture(const Body& body, const ScopePtr& scope) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  struct Restore {
    std::string*& out;
    std::string* saved;
    ~Restore() { out = saved; }
  } restore{out_, saved};
  exec_body(body, scope);
  return buf;
}

Interpreter::Flow Interpreter::exec(const Stmt& s, const ScopePtr& scope) {
  step();
  line_ = s.line;
  switch (s.kind) {
    case StmtKind::Text:
      emit(s.text);
      return Flow::Normal;
    case StmtKind::Print:
      for (const auto& e : s.exprs) emit(to_str(eval(*e, scope)));
      return Flow::Normal;
    case StmtKind::If:
      for (const auto& [cond, body] : s.branches) {
        if (truthy(eval(*cond, scope))) return exec_body(body, scope);
      }
      return exec_body(s.else_body, scope);
    case StmtKind::For: {
      // exec_for handles the loop; a break/continue in its else block belongs to an outer loop.
      Value iterable = eval(*s.expr, scope);
      line_ = s.line;
      std::vector<Value> items = iterate(iterable);
      if (s.cond) {
        std::vector<Value> kept;
        for (auto& v : items) {
          step();
          auto ts = child(scope);
          assign(s.target, v, *ts);
          if (truthy(eval(*s.cond, ts))) kept.push_back(std::move(v));
        }
        items = std::move(kept);
      }
      auto loop = std::make_shared<Loop>(std::move(items));
      const Value loop_value = Value::object(loop);
      bool completed = false;  // Jinja runs `else` unless some iteration ran to its end
      for (size_t i = 0; i < loop->items.size(); ++i) {
        step();
        loop->index = i;
        auto it = child(scope);
        it->vars.emplace_back("loop", loop_value);
        line_ = s.line;
        assign(s.target, loop->items[i], *it);
        const Flow f = exec_body(s.body, it);
        if (f == Flow::Break) break;
        if (f == Flow::Normal) completed = true;
      }
      if (!completed && !s.else_body.empty()) return exec_body(s.else_body, child(scope));
      return Flow::Normal;
    }
    case StmtKind::Set: {
      Value v = eval(*s.expr, scope);
      line_ = s.line;
      assign(s.target, v, *scope);
      return Flow::Normal;
    }
    case StmtKind::SetBlock: {
      Value v = Value::string(capture(s.body, child(scope)));
      if (s.expr) v = apply_filter_chain(*s.expr, v, scope);
      line_ = s.line;
      assign(s.target, v, *scope);
      return Flow::Normal;
    }
    case StmtKind::Macro: {
      auto m = std::make_shared<Macro>(&s, s.text, scope);
      track(m);
      scope->set(s.text, Value::object(std::move(m)));
      return Flow::Normal;
    }
    case StmtKind::CallBlock:
      exec_call_block(s, scope);
      return Flow::Normal;
    case StmtKind::FilterBlock: {
      auto inner = child(scope);
      const Value v = Value::string(capture(s.body, inner));
      emit(to_str(apply_filter_chain(*s.expr, v, inner)));
      return Flow::Normal;
    }
    case StmtKind::With: {
      std::vector<Value> values;
      for (const auto& a : s.assigns) values.push_back(eval(*a.second, scope));
      auto inner = child(scope);
      line_ = s.line;
      for (size_t i = 0; i < values.size(); ++i) assign(s.assigns[i].first, values[i], *inner);
      return exec_body(s.body, inner);
    }
    case StmtKind::Scope:
      return exec_body(s.body, child(scope));
    case StmtKind::Break:
      return Flow::Break;
    case StmtKind::Continue:
      return Flow::Continue;
    case StmtKind::Unsupported:
      throw Error(s.text);
  }
  return Flow::Normal;
}

void Interpreter::assign(const Target& t, const Value& v, Scope& scope) {
  switch (t.kind) {
    case Target::Name:
      scope.set(t.name, v);
      return;
    case Target::Tuple: {
      std::vector<Value> items = iterate(v);
      if (items.size() > t.items.size())
        throw Error(cat("too many values to unpack (expected ", t.items.size(), ")"));
      if (items.size() < t.items.size())
        throw Error(cat("not enough values to unpack (expected ", t.items.size(), ", got ",
                        items.size(), ")"));
      for (size_t i = 0; i < items.size(); ++i) assign(t.items[i], items[i], scope);
      return;
    }
    case Target::NsAttr: {
      const Value* ns = scope.lookup(t.name);
      auto* obj = ns && ns->is_object() ? dynamic_cast<Namespace*>(ns->obj()) : nullptr;
      if (!obj) throw Error("cannot assign attribute on non-namespace object");
      obj->setattr(t.attr, v);
      return;
    }
  }
}

Value Interpreter::apply_filter_chain(const Expr& chain, const Value& input,
                                      const ScopePtr& scope) {
  const Value operand = chain.a ? apply_filter_chain(*chain.a, input, scope) : input;
  CallArgs args;
  eval_args(chain.args, scope, args);
  line_ = chain.line;
  if (!chain.filter) throw Error(cat("No filter named '", chain.name, "' found."));
  return chain.filter(*this, operand, args);
}

void Interpreter::eval_args(const Args& a, const ScopePtr& scope, CallArgs& out) {
  for (const auto& e : a.pos) out.pos.push_back(eval(*e, scope));
  for (const auto& [k, e] : a.kw) out.kw.emplace_back(k, eval(*e, scope));
  if (a.star) {
    for (auto& v : iterate(eval(*a.star, scope))) out.pos.push_back(std::move(v));
  }
  if (a.dstar) {
    const Value d = eval(*a.dstar, scope);
    if (!d.is_dict()) throw Error(cat("argument after ** must be a mapping, not ", type_name(d)));
    for (const auto& [k, v] : d.dict().items) {
      if (!k.is_string()) throw Error("keywords must be strings");
      out.kw.emplace_back(k.s(), v);
    }
  }
}

void Interpreter::exec_call_block(const Stmt& s, const ScopePtr& scope) {
  const Expr& call = *s.expr;
  const Value callee = eval(*call.a, scope);
  CallArgs args;
  eval_args(call.args, scope, args);
  auto caller = std::make_shared<Macro>(&s, "caller", scope);
  track(caller);
  args.kw.emplace_back("caller", Value::object(std::move(caller)));
  line_ = s.line;
  emit(to_str(this->call(callee, args)));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (!callee.is_object() || !callee.obj()->callable())
    throw Error(cat("'", type_name(callee), "' object is not callable"));
  uint64_t work = 1;
  for (const auto& a : args.pos) work += work_size(a);
  step(work);
  return callee.obj()->call(*this, args);
}

Value Interpreter::call_macro(const Stmt& def, const std::string& name, const ScopePtr& closure,
                              CallArgs& args) {
  if (call_depth_ >= limits_.max_call_depth)
    throw Error(
        cat("maximum recursion depth exceeded (", limits_.max_call_depth, " nested macro calls)"));
  auto scope = child(closure);
  const size_t nparams = def.params.size();
  std::vector<std::optional<Value>> bound(nparams);
  for (size_t i = 0; i < nparams && i < args.pos.size(); ++i) bound[i] = args.pos[i];
  std::vector<std::pair<std::string, Value>> kwargs = std::move(args.kw);
  bool found_caller = false;
  if (args.pos.size() < nparams) {
    for (size_t i = args.pos.size(); i < nparams; ++i) {
      for (auto it = kwargs.begin(); it != kwargs.end(); ++it) {
        if (it->first == def.params[i].name) {
          bound[i] = std::move(it->second);
          kwargs.erase(it);
          break;
        }
      }
      if (def.params[i].name == "caller") found_caller = true;
    }
  } else {
    for (const auto& p : def.params) found_caller |= p.name == "caller";
  }
  if (def.uses_caller && !found_caller) {
    Value caller = Value::undefined("No caller defined");
    for (auto it = kwargs.begin(); it != kwargs.end(); ++it) {
      if (it->first == "caller") {
        caller = std::move(it->second);
        kwargs.erase(it);
        break;
      }
    }
    scope->set("caller", caller);
  }
  if (def.uses_kwargs) {
    Dict d;
    for (auto& [k, v] : kwargs) d.items.emplace_back(Value::string(k), std::move(v));
    scope->set("kwargs", Value::dict(std::move(d)));
  } else if (!kwargs.empty()) {
    if (kwargs.front().first == "caller")
      throw Error(
          cat("macro '", name, "' was invoked with two values for the special caller argument"));
    throw Error(cat("macro '", name, "' takes no keyword argument '", kwargs.front().first, "'"));
  }
  if (def.uses_varargs) {
    std::vector<Value> extra;
    for (size_t i = nparams; i < args.pos.size(); ++i) extra.push_back(args.pos[i]);
    scope->set("varargs", Value::tuple(std::move(extra)));
  } else if (args.pos.size() > nparams) {
    throw Error(cat("macro '", name, "' takes not more than ", nparams, " argument(s)"));
  }
  ++call_depth_;
  struct Depth {
    int& d;
    ~Depth() { --d; }
  } depth{call_depth_};
  for (size_t i = 0; i < nparams; ++i) {
    const Param& p = def.params[i];
    if (bound[i]) {
      scope->set(p.name, std::move(*bound[i]));
    } else if (p.dflt) {
      scope->set(p.name, eval(*p.dflt, scope));
    } else {
      scope->set(p.name, Value::undefined(cat("parameter '", p.name, "' was not provided")));
    }
  }
  return Value::string(capture(def.body, scope));
}

Value Interpreter::apply_filter(const std::string& name, const Value& operand, CallArgs& args) {
  const FilterFn f = find_filter(name);
  if (!f) throw Error(cat("No filter named '", name, "'."));
  return f(*this, operand, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& operand, CallArgs& args) {
  const TestFn t = find_test(name);
  if (!t) throw Error(cat("No test named '", name, "'."));
  return t(*this, operand, args);
}

}  // namespace helix::chat

// The chat-template interpreter: walks a parsed Program with Jinja2's scoping (a for-loop
// iteration, macro call, with, block set and filter block each get a fresh scope that reads
// through to the enclosing one; if does not), under limits on output size, work and call depth
// so that no template can run away.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace helix::chat {

struct Limits {
  size_t max_output = size_t{64} << 20;  // bytes of output, and of any one string built
  uint64_t max_steps = 20'000'000;       // statements run + loop iterations + calls
  int max_call_depth = 200;              // nested macro calls (Jinja/Python stops near 180)
};

struct Scope {
  std::shared_ptr<Scope> parent;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* lookup(std::string_view name) const;
  void set(std::string_view name, Value v);
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
 public:
  explicit Interpreter(const Limits& limits) : limits_(limits) {}

  // Renders the program with `globals` as the root scope's parent. Throws helix::Error
  // ("template line N: reason") for any template error.
  std::string render(const Program& prog, const ScopePtr& globals);

  Value eval(const Expr& e, const ScopePtr& scope);
  Value call(const Value& callee, CallArgs& args);
  // Applies a filter or test by name (for map/select/reject and friends).
  Value apply_filter(const std::string& name, const Value& operand, CallArgs& args);
  bool apply_test(const std::string& name, const Value& operand, CallArgs& args);

  // Keeps a cycle-prone object (namespace, macro) until the render ends, then releases it.
  void track(std::shared_ptr<Object> obj) { tracked_.push_back(std::move(obj)); }

  const Limits& limits() const { return limits_; }
  void check_size(size_t n) const;  // throws if a value of n bytes would exceed the limits
  void step(uint64_t n = 1);        // counts work; throws past max_steps

  // Attribute and item lookup with Jinja's sandboxed semantics (env.getattr / env.getitem).
  static Value getattr(const Value& obj, const std::string& name);
  static Value getitem(const Value& obj, const Value& key);

  // Macro invocation (used by the Macro object).
  Value call_macro(const Stmt& def, const std::string& name, const ScopePtr& closure,
                   CallArgs& args);

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec_body(const Body& body, const ScopePtr& scope);
  Flow exec(const Stmt& s, const ScopePtr& scope);
  void exec_call_block(const Stmt& s, const ScopePtr& scope);
  std::string capture(const Body& body, const ScopePtr& scope);
  void assign(const Target& t, const Value& v, Scope& scope);
  Value apply_filter_chain(const Expr& chain, const Value& input, const ScopePtr& scope);
  void eval_args(const Args& a, const ScopePtr& scope, CallArgs& out);
  void emit(const std::string& s);

  Value eval_binary(const Expr& e, const ScopePtr& scope);
  Value eval_compare(const Expr& e, const ScopePtr& scope);
  Value eval_item(const Expr& e, const ScopePtr& scope);

  Limits limits_;
  std::vector<std::shared_ptr<Object>> tracked_;
  std::string* out_ = nullptr;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  int line_ = 0;  // line of the innermost node being run, for error messages
};

// Work to charge for an operation over v: about one step per 8 elements or 64 bytes.
uint64_t work_size(const Value& v);

// Python operators (interpreter_eval.cpp).
Value py_binary(BinOp op, const Value& a, const Value& b, const Interpreter& in);
bool py_contains(const Value& container, const Value& item);
Value py_neg(const Value& v, bool negate);

}  // namespace helix::chat

// Syntax tree of a parsed chat template. One node type for expressions and one for statements
// (fields used by kind, as noted), owned by a Program that a ChatTemplate shares between copies.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace helix::chat {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// A filter or test implementation (see builtins.h).
using FilterFn = Value (*)(Interpreter&, const Value& operand, CallArgs& args);
using TestFn = bool (*)(Interpreter&, const Value& operand, CallArgs& args);

enum class ExprKind : uint8_t {
  Const,    // value
  Name,     // name
  List,     // items
  Tuple,    // items
  Dict,     // items: key, value, key, value, ...
  Attr,     // a.name
  Item,     // a[b]; b may be a Slice
  Slice,    // a:b:c inside a subscript (each may be null)
  Call,     // a(args)
  Filter,   // a|name(args); a is null for the filter of a {% filter %} or {% set %} block
  Test,     // a is name(args)
  Not,      // not a
  Neg,      // -a
  Pos,      // +a
  Binary,   // a op b
  And,      // a and b
  Or,       // a or b
  Concat,   // items joined with ~
  Compare,  // a (op b)...
  Cond,     // b if a else c (c may be null)
};

enum class BinOp : uint8_t { Add, Sub, Mul, Div, FloorDiv, Mod, Pow };
enum class CmpOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

struct Args {
  std::vector<ExprPtr> pos;
  std::vector<std::pair<std::string, ExprPtr>> kw;
  ExprPtr star, dstar;  // *args, **kwargs
};

struct Expr {
  ExprKind kind = ExprKind::Const;
  int line = 0;
  Value value;
  std::string name;
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;
  std::vector<std::pair<CmpOp, ExprPtr>> ops;
  Args args;
  BinOp op = BinOp::Add;
  FilterFn filter = nullptr;  // resolved at parse time; null: unknown (fails when run)
  TestFn test = nullptr;
};

struct Target {
  enum Kind : uint8_t { Name, Tuple, NsAttr } kind = Name;
  std::string name, attr;
  std::vector<Target> items;
};

struct Param {
  std::string name;
  ExprPtr dflt;  // null: required
};

enum class StmtKind : uint8_t {
  Text,         // text
  Print,        // exprs
  If,           // branches, else_body
  For,          // target, expr (iterable), cond (filter), body, else_body
  Set,          // target, expr
  SetBlock,     // target, body, expr (filter chain or null)
  Macro,        // text (name), params, body, uses_*
  CallBlock,    // expr (the call), params, body, uses_*
  FilterBlock,  // expr (filter chain), body
  With,         // assigns, body
  Scope,        // body in its own scope ({% block %}, {% generation %})
  Break,
  Continue,
  Unsupported,  // text: the reason, raised when run ({% autoescape %})
};

struct Stmt {
  StmtKind kind = StmtKind::Text;
  int line = 0;
  std::string text;
  std::vector<ExprPtr> exprs;
  ExprPtr expr, cond;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body, else_body;
  Target target;
  std::vector<std::pair<Target, ExprPtr>> assigns;
  std::vector<Param> params;
  bool uses_caller = false, uses_varargs = false, uses_kwargs = false;
};

struct Program {
  Body body;
};

}  // namespace helix::chat

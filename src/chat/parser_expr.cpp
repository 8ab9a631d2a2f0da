// Chat-template parser, expressions: one function per precedence level as in Jinja2
// (condexpr < or < and < not < compare < +,- < ~ < *,/,//,% < ** < unary/postfix/filters/tests
// < primary).
#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/parser_impl.h"

namespace helix::chat::detail {

ExprPtr Parser::parse_tuple(bool simplified, bool with_condexpr,
                            const std::vector<const char*>& extra, bool explicit_parens,
                            bool with_namespace) {
  const int line = cur().line;
  std::vector<ExprPtr> args;
  bool is_tuple = false;
  while (true) {
    if (!args.empty()) expect_op(",");
    if (is_tuple_end(extra)) break;
    args.push_back(simplified ? parse_primary(with_namespace) : parse_expression(with_condexpr));
    if (is_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!args.empty()) return std::move(args[0]);
    if (!explicit_parens)
      fail(cur().line, cat("Expected an expression, got '", token_desc(cur()), "'"));
  }
  auto t = make(ExprKind::Tuple, line);
  t->items = std::move(args);
  return t;
}

bool Parser::is_tuple_end(const std::vector<const char*>& extra) const {
  if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || cur().type == Tok::Eof)
    return true;
  if (is_op(")")) return true;
  return at_end_token(extra);
}

ExprPtr Parser::parse_expression(bool with_condexpr) {
  Nest nest(*this, cur().line);
  return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr Parser::parse_condexpr() {
  const size_t first_unknown = unknowns_.size();
  ExprPtr e1 = parse_or();
  while (is_name("if")) {
    const int line = next().line;
    auto c = make(ExprKind::Cond, line);
    const bool saved = soft_;
    soft_ = true;
    c->a = parse_or();
    if (skip_name("else")) c->c = parse_condexpr();
    soft_ = saved;
    c->b = std::move(e1);
    e1 = std::move(c);
    for (size_t k = first_unknown; k < unknowns_.size(); ++k) unknowns_[k].second = true;
  }
  return e1;
}

ExprPtr Parser::binary(ExprKind k, ExprPtr l, ExprPtr r, int line) {
  auto e = make(k, line);
  e->a = std::move(l);
  e->b = std::move(r);
  return e;
}

ExprPtr Parser::parse_or() {
  ExprPtr l = parse_and();
  while (is_name("or")) {
    const int line = next().line;
    l = binary(ExprKind::Or, std::move(l), parse_and(), line);
  }
  return l;
}

ExprPtr Parser::parse_and() {
  ExprPtr l = parse_not();
  while (is_name("and")) {
    const int line = next().line;
    l = binary(ExprKind::And, std::move(l), parse_not(), line);
  }
  return l;
}

ExprPtr Parser::parse_not() {
  if (is_name("not")) {
    Nest nest(*this, cur().line);
    auto e = make(ExprKind::Not, next().line);
    e->a = parse_not();
    return e;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  const int line = cur().line;
  ExprPtr first = parse_math1();
  std::vector<std::pair<CmpOp, ExprPtr>> ops;
  while (true) {
    CmpOp op;
    if (is_op("=="))
      op = CmpOp::Eq;
    else if (is_op("!="))
      op = CmpOp::Ne;
    else if (is_op("<"))
      op = CmpOp::Lt;
    else if (is_op("<="))
      op = CmpOp::Le;
    else if (is_op(">"))
      op = CmpOp::Gt;
    else if (is_op(">="))
      op = CmpOp::Ge;
    else if (is_name("in"))
      op = CmpOp::In;
    else if (is_name("not") && look().type == Tok::Name && look().text == "in") {
      next();
      op = CmpOp::NotIn;
    } else {
      break;
    }
    next();
    ops.emplace_back(op, parse_math1());
  }
  if (ops.empty()) return first;
  auto e = make(ExprKind::Compare, line);
  e->a = std::move(first);
  e->ops = std::move(ops);
  return e;
}

ExprPtr Parser::parse_math1() {
  ExprPtr l = parse_concat();
  while (is_op("+") || is_op("-")) {
    const BinOp op = cur().text == "+" ? BinOp::Add : BinOp::Sub;
    const int line = next().line;
    l = binary(ExprKind::Binary, std::move(l), parse_concat(), line);
    l->op = op;
  }
  return l;
}

ExprPtr Parser::parse_concat() {
  const int line = cur().line;
  ExprPtr first = parse_math2();
  if (!is_op("~")) return first;
  auto e = make(ExprKind::Concat, line);
  e->items.push_back(std::move(first));
  while (skip_op("~")) e->items.push_back(parse_math2());
  return e;
}

ExprPtr Parser::parse_math2() {
  ExprPtr l = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    const std::string& t = cur().text;
    const BinOp op = t == "*"    ? BinOp::Mul
                     : t == "/"  ? BinOp::Div
                     : t == "//" ? BinOp::FloorDiv
                                 : BinOp::Mod;
    const int line = next().line;
    l = binary(ExprKind::Binary, std::move(l), parse_pow(), line);
    l->op = op;
  }
  return l;
}

std::optional<Value> Parser::fold_number(const Expr& e) {
  try {
    switch (e.kind) {
      case ExprKind::Const:
        if (e.value.is_int() || e.value.is_float()) return e.value;
        return std::nullopt;
      case ExprKind::Neg:
      case ExprKind::Pos: {
        auto v = fold_number(*e.a);
        if (!v) return std::nullopt;
        return py_neg(*v, e.kind == ExprKind::Neg);
      }
      case ExprKind::Binary: {
        auto a = fold_number(*e.a), b = fold_number(*e.b);
        if (!a || !b) return std::nullopt;
        static const Interpreter folder{Limits{}};
        return py_binary(e.op, *a, *b, folder);
      }
      default:
        return std::nullopt;
    }
  } catch (const Error&) {
    return std::nullopt;
  }
}

ExprPtr Parser::parse_pow() {
  ExprPtr l = parse_unary(true);
  while (is_op("**")) {
    const int line = next().line;
    ExprPtr r = parse_unary(true);
    // Jinja writes a folded negative base into Python source unparenthesized, so with a
    // non-constant exponent `-2 ** n` means -(2 ** n) there. Marked for the evaluator.
    const auto base = fold_number(*l);
    const bool quirk = base && base->f() < 0 && !fold_number(*r);
    l = binary(ExprKind::Binary, std::move(l), std::move(r), line);
    l->op = BinOp::Pow;
    if (quirk) l->value = Value::boolean(true);
  }
  return l;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  Nest nest(*this, cur().line);
  ExprPtr node;
  if (is_op("-") || is_op("+")) {
    const ExprKind k = cur().text == "-" ? ExprKind::Neg : ExprKind::Pos;
    node = make(k, next().line);
    node->a = parse_unary(false);
  } else {
    node = parse_primary(false);
  }
  node = parse_postfix(std::move(node));
  if (with_filter) node = parse_filter_expr(std::move(node));
  return node;
}

ExprPtr Parser::parse_primary(bool with_namespace) {
  const Token& tk = cur();
  const int line = tk.line;
  if (tk.type == Tok::Name) {
    const std::string name = next().text;
    if (name == "true" || name == "false" || name == "True" || name == "False") {
      auto e = make(ExprKind::Const, line);
      e->value = Value::boolean(name == "true" || name == "True");
      return e;
    }
    if (name == "none" || name == "None") {
      auto e = make(ExprKind::Const, line);
      e->value = Value::none();
      return e;
    }
    auto e = make(ExprKind::Name, line);
    e->name = name;
    if (name == "caller" || name == "varargs" || name == "kwargs") {
      for (Stmt* m : macros_) {
        if (name == "caller") m->uses_caller = true;
        if (name == "varargs") m->uses_varargs = true;
        if (name == "kwargs") m->uses_kwargs = true;
      }
    }
    if (with_namespace && is_op(".")) {
      next();
      auto ref = make(ExprKind::Attr, line);
      ref->a = std::move(e);
      ref->name = expect_name();
      ref->value = Value::boolean(true);  // marks a namespace reference
      return ref;
    }
    return e;
  }
  if (tk.type == Tok::String) {
    auto e = make(ExprKind::Const, line);
    std::string s;
    while (cur().type == Tok::String) s += next().text;
    e->value = Value::string(std::move(s));
    return e;
  }
  if (tk.type == Tok::Int || tk.type == Tok::Float) {
    auto e = make(ExprKind::Const, line);
    e->value = tk.type == Tok::Int ? Value::integer(tk.ival) : Value::number(tk.fval);
    next();
    return e;
  }
  if (is_op("(")) {
    next();
    ExprPtr e = parse_tuple(false, true, {}, true);
    expect_op(")");
    return e;
  }
  if (is_op("[")) {
    next();
    auto e = make(ExprKind::List, line);
    while (!is_op("]")) {
      if (!e->items.empty()) expect_op(",");
      if (is_op("]")) break;
      e->items.push_back(parse_expression(true));
    }
    expect_op("]");
    return e;
  }
  if (is_op("{")) {
    next();
    auto e = make(ExprKind::Dict, line);
    while (!is_op("}")) {
      if (!e->items.empty()) expect_op(",");
      if (is_op("}")) break;
      e->items.push_back(parse_expression(true));
      expect_op(":");
      e->items.push_back(parse_expression(true));
    }
    expect_op("}");
    return e;
  }
  if (tk.type == Tok::Eof) fail(line, "unexpected end of template");
  fail(line, cat("unexpected '", token_desc(tk), "'"));
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
  while (true) {
    if (is_op(".") || is_op("[")) {
      node = parse_subscript(std::move(node));
    } else if (is_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (is_op("|")) {
      node = parse_filter(std::move(node), false);
    } else if (is_name("is")) {
      node = parse_test(std::move(node));
    } else if (is_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
  const Token& tk = next();
  const int line = tk.line;
  if (tk.text == ".") {
    const Token& at = cur();
    if (at.type == Tok::Name) {
      auto e = make(ExprKind::Attr, line);
      e->a = std::move(node);
      e->name = next().text;
      return e;
    }
    if (at.type != Tok::Int) fail(at.line, "expected name or number");
    auto e = make(ExprKind::Item, line);
    e->a = std::move(node);
    e->b = make(ExprKind::Const, at.line);
    e->b->value = Value::integer(at.ival);
    next();
    return e;
  }
  std::vector<ExprPtr> args;
  while (!is_op("]")) {
    if (!args.empty()) expect_op(",");
    args.push_back(parse_subscribed());
  }
  expect_op("]");
  auto e = make(ExprKind::Item, line);
  e->a = std::move(node);
  if (args.size() == 1) {
    e->b = std::move(args[0]);
  } else {
    e->b = make(ExprKind::Tuple, line);
    e->b->items = std::move(args);
  }
  return e;
}

ExprPtr Parser::parse_subscribed() {
  const int line = cur().line;
  ExprPtr start;
  if (!is_op(":")) {
    ExprPtr node = parse_expression(true);
    if (!is_op(":")) return node;
    start = std::move(node);
  }
  next();  // ':'
  auto s = make(ExprKind::Slice, line);
  s->a = std::move(start);
  if (!is_op(":") && !is_op("]") && !is_op(",")) s->b = parse_expression(true);
  if (skip_op(":")) {
    if (!is_op("]") && !is_op(",")) s->c = parse_expression(true);
  }
  return s;
}

void Parser::parse_call_args(Args& a) {
  const int line = cur().line;
  expect_op("(");
  bool require_comma = false;
  auto ensure = [&](bool ok) {
    if (!ok) fail(line, "invalid syntax for function call expression");
  };
  while (!is_op(")")) {
    if (require_comma) {
      expect_op(",");
      if (is_op(")")) break;
    }
    if (is_op("*")) {
      ensure(!a.star && !a.dstar);
      next();
      a.star = parse_expression(true);
    } else if (is_op("**")) {
      ensure(!a.dstar);
      next();
      a.dstar = parse_expression(true);
    } else if (cur().type == Tok::Name && look().type == Tok::Op && look().text == "=") {
      ensure(!a.dstar);
      std::string key = next().text;
      next();
      a.kw.emplace_back(std::move(key), parse_expression(true));
    } else {
      ensure(!a.star && !a.dstar && a.kw.empty());
      a.pos.push_back(parse_expression(true));
    }
    require_comma = true;
  }
  expect_op(")");
}

ExprPtr Parser::parse_call(ExprPtr node) {
  auto e = make(ExprKind::Call, cur().line);
  e->a = std::move(node);
  parse_call_args(e->args);
  return e;
}

std::string Parser::dotted_name() {
  std::string name = expect_name();
  while (skip_op(".")) name += "." + expect_name();
  return name;
}

ExprPtr Parser::parse_filter(ExprPtr node, bool start_inline) {
  while (is_op("|") || start_inline) {
    if (!start_inline) next();
    start_inline = false;
    const int line = cur().line;
    auto e = make(ExprKind::Filter, line);
    e->name = dotted_name();
    e->a = std::move(node);
    if (is_op("(")) parse_call_args(e->args);
    e->filter = find_filter(e->name);
    if (!e->filter) unknowns_.emplace_back(e.get(), soft_);
    node = std::move(e);
  }
  return node;
}

ExprPtr Parser::parse_test(ExprPtr node) {
  const int line = next().line;  // 'is'
  const bool negated = skip_name("not");
  auto e = make(ExprKind::Test, line);
  e->name = dotted_name();
  e->a = std::move(node);
  const Token& tk = cur();
  if (is_op("(")) {
    parse_call_args(e->args);
  } else if ((tk.type == Tok::Name || tk.type == Tok::String || tk.type == Tok::Int ||
              tk.type == Tok::Float || is_op("[") || is_op("{")) &&
             !is_name("else") && !is_name("or") && !is_name("and")) {
    if (is_name("is")) fail(tk.line, "You cannot chain multiple tests with is");
    e->args.pos.push_back(parse_postfix(parse_primary(false)));
  }
  e->test = find_test(e->name);
  if (!e->test) unknowns_.emplace_back(e.get(), soft_);
  if (!negated) return e;
  auto n = make(ExprKind::Not, line);
  n->a = std::move(e);
  return n;
}

}  // namespace helix::chat::detail

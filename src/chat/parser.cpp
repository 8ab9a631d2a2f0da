// Chat-template parser (see parser.h): recursive descent over the lexer's tokens, one function
// per precedence level as in Jinja2 (condexpr < or < and < not < compare < +,- < ~ < *,/,//,%
// < ** < unary/postfix/filters/tests < primary).
#include "chat/parser.h"

#include <algorithm>

#include "chat/builtins.h"
#include "chat/lexer.h"
#include "core/error.h"

namespace helix::chat {

namespace {

constexpr int kMaxNesting = 100;  // expression and block nesting

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Body parse() {
    Body body = subparse({});
    for (const auto& [e, soft] : unknowns_)
      if (!soft) fail(e->line, cat("No ", e->kind == ExprKind::Filter ? "filter" : "test", " named '", e->name, "'."));
    return body;
  }

 private:
  std::vector<Token> t_;
  size_t i_ = 0;
  bool soft_ = false;   // inside an if / inline-if frame (unknown filters fail at run time)
  int loops_ = 0;       // enclosing for-loop bodies in the current macro
  int depth_ = 0;
  std::vector<Stmt*> macros_;
  std::vector<std::pair<Expr*, bool>> unknowns_;

  struct Nest {
    Parser& p;
    explicit Nest(Parser& parser, int line) : p(parser) {
      if (++p.depth_ > kMaxNesting) p.fail(line, "template nested too deeply");
    }
    ~Nest() { --p.depth_; }
  };

  // Frame state for statement bodies that Jinja compiles as inner frames or functions.
  struct Frame {
    Parser& p;
    bool soft;
    int loops;
    Frame(Parser& parser, bool function) : p(parser), soft(parser.soft_), loops(parser.loops_) {
      p.soft_ = false;
      if (function) p.loops_ = 0;
    }
    ~Frame() {
      p.soft_ = soft;
      p.loops_ = loops;
    }
  };

  [[noreturn]] void fail(int line, const std::string& msg) const {
    throw Error(cat("template line ", line, ": ", msg));
  }
  const Token& cur() const { return t_[i_]; }
  const Token& look() const { return t_[std::min(i_ + 1, t_.size() - 1)]; }
  const Token& next() {
    const Token& t = t_[i_];
    if (i_ + 1 < t_.size()) ++i_;
    return t;
  }
  bool is_name(const char* s) const { return cur().type == Tok::Name && cur().text == s; }
  bool is_op(const char* s) const { return cur().type == Tok::Op && cur().text == s; }
  bool skip_name(const char* s) {
    if (!is_name(s)) return false;
    next();
    return true;
  }
  bool skip_op(const char* s) {
    if (!is_op(s)) return false;
    next();
    return true;
  }
  std::string token_desc(const Token& t) const {
    if (t.type == Tok::Name || t.type == Tok::Op) return t.text;
    return describe(t);
  }
  [[noreturn]] void unexpected(const char* expected) const {
    if (cur().type == Tok::Eof) fail(cur().line, cat("unexpected end of template, expected '", expected, "'."));
    fail(cur().line, cat("expected token '", expected, "', got '", token_desc(cur()), "'"));
  }
  void expect_op(const char* s) {
    if (!skip_op(s)) unexpected(s);
  }
  void expect(Tok type, const char* what) {
    if (cur().type != type) unexpected(what);
    next();
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) unexpected("name");
    return next().text;
  }

  static ExprPtr make(ExprKind k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }
  static StmtPtr make_stmt(StmtKind k, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = k;
    s->line = line;
    return s;
  }

  // --- statements --------------------------------------------------------------------------------

  bool at_end_token(const std::vector<const char*>& end) const {
    if (cur().type != Tok::Name) return false;
    return std::any_of(end.begin(), end.end(), [&](const char* e) { return cur().text == e; });
  }

  Body subparse(const std::vector<const char*>& end) {
    Body body;
    while (cur().type != Tok::Eof) {
      const Token& tk = cur();
      if (tk.type == Tok::Data) {
        if (!body.empty() && body.back()->kind == StmtKind::Text) {
          body.back()->text += tk.text;
        } else {
          auto s = make_stmt(StmtKind::Text, tk.line);
          s->text = tk.text;
          body.push_back(std::move(s));
        }
        next();
      } else if (tk.type == Tok::VarBegin) {
        auto s = make_stmt(StmtKind::Print, tk.line);
        next();
        s->exprs.push_back(parse_tuple(false, true, {}, false));
        expect(Tok::VarEnd, "end of print statement");
        body.push_back(std::move(s));
      } else if (tk.type == Tok::BlockBegin) {
        next();
        if (!end.empty() && at_end_token(end)) return body;
        body.push_back(parse_statement());
        expect(Tok::BlockEnd, "end of statement block");
      } else {
        fail(tk.line, cat("unexpected '", token_desc(tk), "'"));
      }
    }
    return body;
  }

  Body parse_statements(const std::vector<const char*>& end, bool drop_needle) {
    skip_op(":");
    expect(Tok::BlockEnd, "end of statement block");
    Body body = subparse(end);
    if (cur().type == Tok::Eof) {
      std::string names;
      for (const char* e : end) names += cat(names.empty() ? "" : " or ", "'", e, "'");
      fail(cur().line, cat("Unexpected end of template. Jinja was looking for the following tags: ", names, "."));
    }
    if (drop_needle) next();
    return body;
  }

  StmtPtr parse_statement() {
    const Token& tk = cur();
    if (tk.type != Tok::Name) fail(tk.line, "tag name expected");
    Nest nest(*this, tk.line);
    const std::string& n = tk.text;
    if (n == "for") return parse_for();
    if (n == "if") return parse_if();
    if (n == "set") return parse_set();
    if (n == "macro") return parse_macro();
    if (n == "call") return parse_call_block();
    if (n == "filter") return parse_filter_block();
    if (n == "with") return parse_with();
    if (n == "print") return parse_print();
    if (n == "block") return parse_block();
    if (n == "break" || n == "continue") {
      auto s = make_stmt(n == "break" ? StmtKind::Break : StmtKind::Continue, tk.line);
      if (loops_ == 0) fail(tk.line, cat("'", n, "' outside loop"));
      next();
      return s;
    }
    if (n == "generation") {  // Hugging Face's assistant-mask extension: renders its body
      auto s = make_stmt(StmtKind::Scope, tk.line);
      next();
      Frame f(*this, true);
      s->body = parse_statements({"endgeneration"}, true);
      return s;
    }
    if (n == "autoescape") {
      auto s = make_stmt(StmtKind::Scope, tk.line);
      next();
      ExprPtr e = parse_expression(true);
      if (!(e->kind == ExprKind::Const && e->value.is_bool() && !e->value.b())) {
        s->kind = StmtKind::Unsupported;
        s->text = "autoescape blocks are not supported";
      }
      Frame f(*this, false);
      s->body = parse_statements({"endautoescape"}, true);
      return s;
    }
    if (n == "extends" || n == "include" || n == "import" || n == "from")
      fail(tk.line, cat("'", n, "' is not supported: chat templates have no template loader"));
    fail(tk.line, cat("Encountered unknown tag '", n, "'."));
  }

  StmtPtr parse_for() {
    auto s = make_stmt(StmtKind::For, next().line);
    s->target = parse_target(false, {"in"});
    if (!skip_name("in")) unexpected("in");
    s->expr = parse_tuple(false, false, {"recursive"}, false);
    if (skip_name("if")) {
      Frame f(*this, false);
      s->cond = parse_expression(true);
    }
    if (skip_name("recursive")) fail(s->line, "recursive loops are not supported");
    {
      Frame f(*this, false);
      ++loops_;
      s->body = parse_statements({"endfor", "else"}, false);
    }
    if (next().text == "else") {
      Frame f(*this, false);
      s->else_body = parse_statements({"endfor"}, true);
    }
    return s;
  }

  StmtPtr parse_if() {
    auto s = make_stmt(StmtKind::If, next().line);
    const bool saved = soft_;
    soft_ = true;
    while (true) {
      ExprPtr test = parse_tuple(false, false, {}, false);
      Body body = parse_statements({"elif", "else", "endif"}, false);
      s->branches.emplace_back(std::move(test), std::move(body));
      const Token& tk = next();
      if (tk.text == "elif") continue;
      if (tk.text == "else") s->else_body = parse_statements({"endif"}, true);
      break;
    }
    soft_ = saved;
    return s;
  }

  StmtPtr parse_set() {
    auto s = make_stmt(StmtKind::Set, next().line);
    s->target = parse_target(true, {});
    if (skip_op("=")) {
      s->expr = parse_tuple(false, true, {}, false);
      return s;
    }
    s->kind = StmtKind::SetBlock;
    Frame f(*this, false);
    s->expr = parse_filter(nullptr, false);
    s->body = parse_statements({"endset"}, true);
    return s;
  }

  StmtPtr parse_with() {
    auto s = make_stmt(StmtKind::With, next().line);
    while (cur().type != Tok::BlockEnd) {
      if (!s->assigns.empty()) expect_op(",");
      Target t = parse_target(false, {});
      expect_op("=");
      s->assigns.emplace_back(std::move(t), parse_expression(true));
    }
    Frame f(*this, false);
    s->body = parse_statements({"endwith"}, true);
    return s;
  }

  StmtPtr parse_print() {
    auto s = make_stmt(StmtKind::Print, next().line);
    while (cur().type != Tok::BlockEnd) {
      if (!s->exprs.empty()) expect_op(",");
      s->exprs.push_back(parse_expression(true));
    }
    return s;
  }

  StmtPtr parse_block() {
    auto s = make_stmt(StmtKind::Scope, next().line);
    const std::string name = expect_name();
    skip_name("scoped");
    skip_name("required");
    if (is_op("-")) fail(cur().line, "Block names in Jinja have to be valid Python identifiers and may not contain hyphens, use an underscore instead.");
    Frame f(*this, true);
    s->body = parse_statements({"endblock"}, true);
    skip_name(name.c_str());
    return s;
  }

  void parse_signature(Stmt& s) {
    expect_op("(");
    bool defaults = false;
    while (!is_op(")")) {
      if (!s.params.empty()) expect_op(",");
      Param p;
      p.name = expect_name();
      if (skip_op("=")) {
        p.dflt = parse_expression(true);
        defaults = true;
      } else if (defaults) {
        fail(cur().line, "non-default argument follows default argument");
      }
      s.params.push_back(std::move(p));
    }
    expect_op(")");
  }

  StmtPtr parse_macro() {
    auto s = make_stmt(StmtKind::Macro, next().line);
    s->text = expect_name();
    Frame f(*this, true);
    macros_.push_back(s.get());
    parse_signature(*s);
    s->body = parse_statements({"endmacro"}, true);
    macros_.pop_back();
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = make_stmt(StmtKind::CallBlock, next().line);
    {
      Frame f(*this, true);
      macros_.push_back(s.get());
      if (is_op("(")) parse_signature(*s);
      macros_.pop_back();
    }
    s->expr = parse_expression(true);
    if (s->expr->kind != ExprKind::Call) fail(s->line, "expected call");
    Frame f(*this, true);
    macros_.push_back(s.get());
    s->body = parse_statements({"endcall"}, true);
    macros_.pop_back();
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = make_stmt(StmtKind::FilterBlock, next().line);
    s->expr = parse_filter(nullptr, true);
    Frame f(*this, false);
    s->body = parse_statements({"endfilter"}, true);
    return s;
  }

  // Assignment targets: a name, a tuple of targets, or (in set) namespace.attr.
  Target to_target(const Expr& e) const {
    Target t;
    if (e.kind == ExprKind::Name) {
      t.kind = Target::Name;
      t.name = e.name;
    } else if (e.kind == ExprKind::Tuple) {
      t.kind = Target::Tuple;
      for (const auto& it : e.items) t.items.push_back(to_target(*it));
    } else if (e.kind == ExprKind::Attr && e.value.is_bool()) {  // marked NSRef
      t.kind = Target::NsAttr;
      t.name = e.a->name;
      t.attr = e.name;
    } else {
      fail(e.line, e.kind == ExprKind::Const ? "can't assign to 'const'" : "can't assign to this expression");
    }
    return t;
  }

  Target parse_target(bool with_namespace, const std::vector<const char*>& extra_end) {
    ExprPtr e = parse_tuple(true, true, extra_end, false, with_namespace);
    return to_target(*e);
  }

  // --- expressions -------------------------------------------------------------------------------

  bool is_tuple_end(const std::vector<const char*>& extra) const {
    if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || cur().type == Tok::Eof) return true;
    if (is_op(")")) return true;
    return at_end_token(extra);
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const std::vector<const char*>& extra,
                      bool explicit_parens, bool with_namespace = false) {
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

  ExprPtr parse_expression(bool with_condexpr) {
    Nest nest(*this, cur().line);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
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

  ExprPtr binary(ExprKind k, ExprPtr l, ExprPtr r, int line) {
    auto e = make(k, line);
    e->a = std::move(l);
    e->b = std::move(r);
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      const int line = next().line;
      l = binary(ExprKind::Or, std::move(l), parse_and(), line);
    }
    return l;
  }

  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      const int line = next().line;
      l = binary(ExprKind::And, std::move(l), parse_not(), line);
    }
    return l;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      Nest nest(*this, cur().line);
      auto e = make(ExprKind::Not, next().line);
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    std::vector<std::pair<CmpOp, ExprPtr>> ops;
    while (true) {
      CmpOp op;
      if (is_op("==")) op = CmpOp::Eq;
      else if (is_op("!=")) op = CmpOp::Ne;
      else if (is_op("<")) op = CmpOp::Lt;
      else if (is_op("<=")) op = CmpOp::Le;
      else if (is_op(">")) op = CmpOp::Gt;
      else if (is_op(">=")) op = CmpOp::Ge;
      else if (is_name("in")) op = CmpOp::In;
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

  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const BinOp op = cur().text == "+" ? BinOp::Add : BinOp::Sub;
      const int line = next().line;
      l = binary(ExprKind::Binary, std::move(l), parse_concat(), line);
      l->op = op;
    }
    return l;
  }

  ExprPtr parse_concat() {
    const int line = cur().line;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto e = make(ExprKind::Concat, line);
    e->items.push_back(std::move(first));
    while (skip_op("~")) e->items.push_back(parse_math2());
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string& t = cur().text;
      const BinOp op = t == "*" ? BinOp::Mul : t == "/" ? BinOp::Div : t == "//" ? BinOp::FloorDiv : BinOp::Mod;
      const int line = next().line;
      l = binary(ExprKind::Binary, std::move(l), parse_pow(), line);
      l->op = op;
    }
    return l;
  }

  ExprPtr parse_pow() {
    ExprPtr l = parse_unary(true);
    while (is_op("**")) {
      const int line = next().line;
      l = binary(ExprKind::Binary, std::move(l), parse_unary(true), line);
      l->op = BinOp::Pow;
    }
    return l;
  }

  ExprPtr parse_unary(bool with_filter) {
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

  ExprPtr parse_primary(bool with_namespace) {
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

  ExprPtr parse_postfix(ExprPtr node) {
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

  ExprPtr parse_filter_expr(ExprPtr node) {
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

  ExprPtr parse_subscript(ExprPtr node) {
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

  ExprPtr parse_subscribed() {
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

  void parse_call_args(Args& a) {
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

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(ExprKind::Call, cur().line);
    e->a = std::move(node);
    parse_call_args(e->args);
    return e;
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    return name;
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
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

  ExprPtr parse_test(ExprPtr node) {
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
};

}  // namespace

std::shared_ptr<const Program> parse_program(std::string_view source) {
  Parser p(tokenize(source));
  auto prog = std::make_shared<Program>();
  prog->body = p.parse();
  return prog;
}

}  // namespace helix::chat

// Chat-template parser (see parser.h): recursive descent over the lexer's tokens. This file has
// the driver and the statement rules; parser_expr.cpp has the expressions.
#include "chat/parser.h"

#include "chat/parser_impl.h"

namespace helix::chat {

namespace detail {

bool Parser::at_end_token(const std::vector<const char*>& end) const {
  if (cur().type != Tok::Name) return false;
  return std::any_of(end.begin(), end.end(), [&](const char* e) { return cur().text == e; });
}

Body Parser::subparse(const std::vector<const char*>& end) {
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

Body Parser::parse_statements(const std::vector<const char*>& end, bool drop_needle) {
  skip_op(":");
  expect(Tok::BlockEnd, "end of statement block");
  Body body = subparse(end);
  if (cur().type == Tok::Eof) {
    std::string names;
    for (const char* e : end) names += cat(names.empty() ? "" : " or ", "'", e, "'");
    fail(cur().line,
         cat("Unexpected end of template. Jinja was looking for the following tags: ", names, "."));
  }
  if (drop_needle) next();
  return body;
}

StmtPtr Parser::parse_statement() {
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

StmtPtr Parser::parse_for() {
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

StmtPtr Parser::parse_if() {
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

StmtPtr Parser::parse_set() {
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

StmtPtr Parser::parse_with() {
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

StmtPtr Parser::parse_print() {
  auto s = make_stmt(StmtKind::Print, next().line);
  while (cur().type != Tok::BlockEnd) {
    if (!s->exprs.empty()) expect_op(",");
    s->exprs.push_back(parse_expression(true));
  }
  return s;
}

StmtPtr Parser::parse_block() {
  auto s = make_stmt(StmtKind::Scope, next().line);
  const std::string name = expect_name();
  skip_name("scoped");
  skip_name("required");
  if (is_op("-"))
    fail(cur().line,
         "Block names in Jinja have to be valid Python identifiers and may not contain hyphens, "
         "use an underscore instead.");
  Frame f(*this, true);
  s->body = parse_statements({"endblock"}, true);
  skip_name(name.c_str());
  return s;
}

void Parser::parse_signature(Stmt& s) {
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

StmtPtr Parser::parse_macro() {
  auto s = make_stmt(StmtKind::Macro, next().line);
  s->text = expect_name();
  Frame f(*this, true);
  macros_.push_back(s.get());
  parse_signature(*s);
  s->body = parse_statements({"endmacro"}, true);
  macros_.pop_back();
  return s;
}

StmtPtr Parser::parse_call_block() {
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

StmtPtr Parser::parse_filter_block() {
  auto s = make_stmt(StmtKind::FilterBlock, next().line);
  s->expr = parse_filter(nullptr, true);
  Frame f(*this, false);
  s->body = parse_statements({"endfilter"}, true);
  return s;
}

Target Parser::to_target(const Expr& e) const {
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
    fail(e.line,
         e.kind == ExprKind::Const ? "can't assign to 'const'" : "can't assign to this expression");
  }
  return t;
}

Target Parser::parse_target(bool with_namespace, const std::vector<const char*>& extra_end) {
  ExprPtr e = parse_tuple(true, true, extra_end, false, with_namespace);
  return to_target(*e);
}

}  // namespace detail

std::shared_ptr<const Program> parse_program(std::string_view source) {
  detail::Parser p(tokenize(source));
  auto prog = std::make_shared<Program>();
  prog->body = p.parse();
  return prog;
}

}  // namespace helix::chat

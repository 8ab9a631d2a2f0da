// Internal to the chat-template parser: the Parser class, whose statement rules live in
// parser.cpp and whose expression rules live in parser_expr.cpp.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"
#include "core/error.h"

namespace helix::chat::detail {

// Expression and block nesting (each parenthesis level counts twice); Python's jinja2 hits its
// recursion limit near 80 parenthesis levels.
constexpr int kMaxNesting = 160;

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Body parse() {
    Body body = subparse({});
    for (const auto& [e, soft] : unknowns_)
      if (!soft)
        fail(e->line, cat("No ", e->kind == ExprKind::Filter ? "filter" : "test", " named '",
                          e->name, "'."));
    return body;
  }

 private:
  std::vector<Token> t_;
  size_t i_ = 0;
  bool soft_ = false;  // inside an if / inline-if frame (unknown filters fail at run time)
  int loops_ = 0;      // enclosing for-loop bodies in the current macro
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
    if (cur().type == Tok::Eof)
      fail(cur().line, cat("unexpected end of template, expected '", expected, "'."));
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

  bool at_end_token(const std::vector<const char*>& end) const;
  Body subparse(const std::vector<const char*>& end);
  Body parse_statements(const std::vector<const char*>& end, bool drop_needle);
  StmtPtr parse_statement();
  StmtPtr parse_for();
  StmtPtr parse_if();
  StmtPtr parse_set();
  StmtPtr parse_with();
  StmtPtr parse_print();
  StmtPtr parse_block();
  void parse_signature(Stmt& s);
  StmtPtr parse_macro();
  StmtPtr parse_call_block();
  StmtPtr parse_filter_block();

  // Assignment targets: a name, a tuple of targets, or (in set) namespace.attr.
  Target to_target(const Expr& e) const;
  Target parse_target(bool with_namespace, const std::vector<const char*>& extra_end);
  bool is_tuple_end(const std::vector<const char*>& extra) const;
  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const std::vector<const char*>& extra,
                      bool explicit_parens, bool with_namespace = false);
  ExprPtr parse_expression(bool with_condexpr);
  ExprPtr parse_condexpr();
  ExprPtr binary(ExprKind k, ExprPtr l, ExprPtr r, int line);
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();

  // The number a numeric constant expression folds to (Jinja's optimizer folds these).
  static std::optional<Value> fold_number(const Expr& e);
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary(bool with_namespace);
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  ExprPtr parse_subscribed();
  void parse_call_args(Args& a);
  ExprPtr parse_call(ExprPtr node);
  std::string dotted_name();
  ExprPtr parse_filter(ExprPtr node, bool start_inline);
  ExprPtr parse_test(ExprPtr node);
};

}  // namespace helix::chat::detail

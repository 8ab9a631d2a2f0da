// The exact calculator (see calculator.h): a recursive-descent parser evaluating on mpq_class.
#include "plugins/calculator.h"

#include <gmpxx.h>

#include <cctype>

#include "core/error.h"

namespace helix::plugins {
namespace {

constexpr size_t kMaxBits = 1'000'000;  // numerator + denominator of any intermediate value
constexpr int kMaxDepth = 200;

size_t bits(const mpz_class& z) { return z == 0 ? 1 : mpz_sizeinbase(z.get_mpz_t(), 2); }

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  mpq_class run() {
    HELIX_CHECK(s_.find_first_not_of(" \t\r\n") != std::string::npos, "the expression is empty");
    mpq_class v = expr();
    skip();
    if (pos_ < s_.size()) fail(cat("unexpected '", s_[pos_], "'"));
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(cat(what, " at position ", pos_ + 1, " of '", s_, "'"));
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(const char* tok) {
    skip();
    const std::string t(tok);
    if (s_.compare(pos_, t.size(), t) != 0) return false;
    pos_ += t.size();
    return true;
  }
  mpq_class checked(mpq_class v) {
    v.canonicalize();
    if (bits(v.get_num()) + bits(v.get_den()) > kMaxBits) fail("the result is too large to compute exactly (over a million bits)");
    return v;
  }

  mpq_class expr() {
    if (++depth_ > kMaxDepth) fail("the expression is nested too deeply");
    mpq_class v = term();
    for (;;) {
      if (eat("+")) v = checked(v + term());
      else if (eat("-")) v = checked(v - term());
      else break;
    }
    --depth_;
    return v;
  }
  mpq_class term() {
    mpq_class v = unary();
    for (;;) {
      skip();
      if (s_.compare(pos_, 2, "**") == 0) break;
      if (eat("*")) {
        v = checked(v * unary());
      } else if (eat("/")) {
        const size_t at = pos_;
        mpq_class d = unary();
        if (d == 0) pos_ = at, fail("division by zero");
        v = checked(v / d);
      } else if (eat("%")) {
        const size_t at = pos_;
        mpq_class d = unary();
        if (d == 0) pos_ = at, fail("modulo by zero");
        mpq_class q = v / d;
        mpz_class f;
        mpz_fdiv_q(f.get_mpz_t(), q.get_num_mpz_t(), q.get_den_mpz_t());
        v = checked(v - d * mpq_class(f));
      } else {
        break;
      }
    }
    return v;
  }
  mpq_class unary() {
    if (eat("-")) return checked(-unary());
    if (eat("+")) return unary();
    return power();
  }
  mpq_class power() {
    mpq_class base = primary();
    if (!eat("^") && !eat("**")) return base;
    const size_t at = pos_;
    mpq_class e = unary();  // right-associative: 2^3^2 = 2^9
    if (e.get_den() != 1) pos_ = at, fail("the exponent must be an integer (roots are not exact)");
    if (abs(e.get_num()) > 1'000'000) pos_ = at, fail("the exponent is too large");
    const long n = e.get_num().get_si();
    if (n < 0 && base == 0) pos_ = at, fail("division by zero (0 to a negative power)");
    const size_t est = (bits(base.get_num()) + bits(base.get_den())) * static_cast<size_t>(n < 0 ? -n : n);
    if (est > 4 * kMaxBits) pos_ = at, fail("the result is too large to compute exactly (over a million bits)");
    mpz_class num, den;
    mpz_pow_ui(num.get_mpz_t(), base.get_num_mpz_t(), static_cast<unsigned long>(n < 0 ? -n : n));
    mpz_pow_ui(den.get_mpz_t(), base.get_den_mpz_t(), static_cast<unsigned long>(n < 0 ? -n : n));
    return checked(n < 0 ? mpq_class(den, num) : mpq_class(num, den));
  }
  mpq_class number() {
    const size_t start = pos_;
    std::string digits;
    long scale = 0;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
      if (s_[pos_] != '_') digits += s_[pos_];
      ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) digits += s_[pos_++], --scale;
    }
    if (digits.empty()) pos_ = start, fail("expected a number");
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      bool neg = false;
      if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) neg = s_[p++] == '-';
      std::string ex;
      while (p < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p]))) ex += s_[p++];
      if (!ex.empty()) {
        if (ex.size() > 6) fail("the exponent of this number is too large");
        scale += neg ? -std::stol(ex) : std::stol(ex);
        pos_ = p;
      }
    }
    if (scale > 100'000 || scale < -100'000) pos_ = start, fail("the exponent of this number is too large");
    mpz_class v(digits, 10), ten;
    mpz_ui_pow_ui(ten.get_mpz_t(), 10, static_cast<unsigned long>(scale < 0 ? -scale : scale));
    return checked(scale < 0 ? mpq_class(v, ten) : mpq_class(v * ten));
  }
  std::vector<mpq_class> args(const std::string& f) {
    std::vector<mpq_class> out;
    if (!eat("(")) fail(cat("'", f, "' needs its arguments in parentheses"));
    if (eat(")")) return out;
    do out.push_back(expr());
    while (eat(","));
    if (!eat(")")) fail("expected ')' or ','");
    return out;
  }
  mpq_class call(const std::string& f, size_t at) {
    std::vector<mpq_class> a = args(f);
    auto need = [&](size_t n) {
      if (a.size() != n) pos_ = at, fail(cat(f, " takes ", n, " argument", n == 1 ? "" : "s", ", not ", a.size()));
    };
    auto floor_of = [](const mpq_class& q) {
      mpz_class z;
      mpz_fdiv_q(z.get_mpz_t(), q.get_num_mpz_t(), q.get_den_mpz_t());
      return z;
    };
    if (f == "abs") return need(1), mpq_class(abs(a[0]));
    if (f == "floor") return need(1), mpq_class(floor_of(a[0]));
    if (f == "ceil") return need(1), mpq_class(-floor_of(-a[0]));
    if (f == "round") {
      need(1);
      const mpq_class half(1, 2);
      return mpq_class(a[0] >= 0 ? floor_of(a[0] + half) : -floor_of(-a[0] + half));
    }
    if (f == "min" || f == "max") {
      if (a.empty()) pos_ = at, fail(cat(f, " needs at least one argument"));
      mpq_class v = a[0];
      for (const auto& x : a) v = (f == "min") == (x < v) ? x : v;
      return v;
    }
    if (f == "gcd" || f == "lcm") {
      need(2);
      if (a[0].get_den() != 1 || a[1].get_den() != 1) pos_ = at, fail(cat(f, " takes integers"));
      mpz_class r;
      if (f == "gcd") mpz_gcd(r.get_mpz_t(), a[0].get_num_mpz_t(), a[1].get_num_mpz_t());
      else mpz_lcm(r.get_mpz_t(), a[0].get_num_mpz_t(), a[1].get_num_mpz_t());
      return checked(mpq_class(r));
    }
    if (f == "sqrt") {
      need(1);
      if (a[0] < 0) pos_ = at, fail("sqrt of a negative number");
      mpz_class n, d;
      mpz_sqrt(n.get_mpz_t(), a[0].get_num_mpz_t());
      mpz_sqrt(d.get_mpz_t(), a[0].get_den_mpz_t());
      if (n * n != a[0].get_num() || d * d != a[0].get_den())
        pos_ = at, fail("sqrt of this number is irrational: the calculator gives exact results only");
      return mpq_class(n, d);
    }
    pos_ = at;
    fail(cat("unknown function '", f, "' (known: abs, floor, ceil, round, min, max, gcd, lcm, sqrt)"));
  }
  mpq_class primary() {
    skip();
    if (pos_ >= s_.size()) fail("the expression ends too early");
    const char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      mpq_class v = expr();
      if (!eat(")")) fail("expected ')'");
      return v;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return number();
    if (std::isalpha(static_cast<unsigned char>(c))) {
      const size_t at = pos_;
      std::string name;
      while (pos_ < s_.size() && std::isalnum(static_cast<unsigned char>(s_[pos_]))) name += s_[pos_++];
      return call(name, at);
    }
    fail(cat("unexpected '", c, "'"));
  }

  const std::string& s_;
  size_t pos_ = 0;
  int depth_ = 0;
};

// |v| * 10^places, rounded half away from zero, written with the decimal point put back.
std::string decimal(const mpq_class& v, unsigned long places) {
  mpz_class scale, q;
  mpz_ui_pow_ui(scale.get_mpz_t(), 10, places);
  mpq_class s = abs(v) * mpq_class(scale) + mpq_class(1, 2);
  mpz_fdiv_q(q.get_mpz_t(), s.get_num_mpz_t(), s.get_den_mpz_t());
  std::string d = q.get_str();
  if (places > 0) {
    if (d.size() <= places) d.insert(0, places + 1 - d.size(), '0');
    d.insert(d.size() - places, ".");
  }
  return (v < 0 && q != 0 ? "-" : "") + d;
}

}  // namespace

CalcResult calculate(const std::string& expression) {
  HELIX_CHECK(expression.size() <= 10000, "the expression is too long (over 10,000 characters)");
  const mpq_class v = Parser(expression).run();
  CalcResult r;
  r.fraction = v.get_den() == 1 ? v.get_num().get_str() : v.get_str();
  // A finite decimal exactly when the denominator has no prime factor but 2 and 5.
  mpz_class den = v.get_den();
  unsigned long twos = mpz_remove(den.get_mpz_t(), den.get_mpz_t(), mpz_class(2).get_mpz_t());
  unsigned long fives = mpz_remove(den.get_mpz_t(), den.get_mpz_t(), mpz_class(5).get_mpz_t());
  r.terminating = den == 1;
  if (r.terminating) {
    r.value = decimal(v, std::max(twos, fives));
    r.approx = r.value;
  } else {
    r.value = r.fraction;
    r.approx = decimal(v, 40);
  }
  return r;
}

}  // namespace helix::plugins

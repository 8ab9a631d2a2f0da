// Chat templates, the language: Python values and printing, operators, lookups, undefined
// semantics, scoping, loops, macros, namespaces. Expected outputs were checked against Python's
// jinja2 3.1 in Hugging Face's sandboxed setup.
#include "chat_test_util.h"

namespace helix::chat::test {
namespace {

TEST(ChatLanguage, PrintsValuesLikePython) {
  EXPECT_EQ(render("{{ [1, 'a', none, true, 1.5] }}"), "[1, 'a', None, True, 1.5]");
  EXPECT_EQ(render("{{ {'a': {'b': (1, 2)}} }}{{ (1,) }}{{ () }}"), "{'a': {'b': (1, 2)}}(1,)()");
  EXPECT_EQ(render("{{ 1.0 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.1 + 0.2 }} {{ -0.0 }}"),
            "1.0 1e+16 1000000000000000.0 1e-05 0.30000000000000004 -0.0");
  EXPECT_EQ(render(R"({{ ["it's", 'say "hi"', "tab\t", "\x01"] }})"),
            R"(["it's", 'say "hi"', 'tab\t', '\x01'])");
  EXPECT_EQ(render("{{ x }}|{{ none }}"), "|None");
}

TEST(ChatLanguage, Arithmetic) {
  EXPECT_EQ(
      render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}"),
      "3 -4 -2 2 1024 0.5");
  EXPECT_EQ(render("{{ 1 / 3 }} {{ 10 / 5 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}"),
            "0.3333333333333333 2.0 3.0 0.5");
  EXPECT_EQ(render("{{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ -3|abs }} {{ true + 1 }}"), "4 64 3 2");
  EXPECT_EQ(render("{{ 'ab' * 2 }}{{ [1] * 2 }}{{ [1] + [2] }}{{ 'a' ~ 1 ~ none }}"),
            "abab[1, 1][1, 2]a1None");
  EXPECT_NE(error_of("{{ 1 / 0 }}").find("division by zero"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 + 'a' }}").find("unsupported operand"), std::string::npos);
  EXPECT_NE(error_of("{{ 9999999999 * 9999999999 }}").find("overflow"), std::string::npos);
}

TEST(ChatLanguage, ComparisonsAndLogic) {
  EXPECT_EQ(
      render("{{ 1 == 1.0 }}{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ [1, 2] < [1, 3] }}{{ 'a' in 'cat' }}"
             "{{ 2 not in [1] }}{{ 'k' in {'k': 1} }}"),
      "TrueTrueFalseTrueTrueTrueTrue");
  EXPECT_EQ(render("{{ none or 0 or 'z' }}{{ 1 and 0 }}{{ true and 'x' }}{{ not none }}"),
            "z0xTrue");
  EXPECT_EQ(render("{{ 'y' if true else 'n' }}[{{ 'x' if false }}]"), "y[]");
  EXPECT_NE(error_of("{{ 1 < 'a' }}").find("not supported"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 in 'abc' }}").find("requires string"), std::string::npos);
}

TEST(ChatLanguage, AttributeAndItemLookup) {
  const Json ctx = {{"d", {{"a", 1}, {"items", 2}}}, {"l", {10, 20, 30}}, {"s", "h\xC3\xA9llo"}};
  EXPECT_EQ(render("{{ d.a }}{{ d['a'] }}{{ d['items'] }}{{ l[0] }}{{ l[-1] }}{{ l.1 }}", ctx),
            "112103020");
  EXPECT_EQ(render("{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 5) }}{{ d.keys()|list }}", ctx),
            "1None5['a', 'items']");
  EXPECT_EQ(render("{{ s[1] }}{{ s[1:3] }}{{ s[::-1] }}{{ s|length }}{{ l[::2] }}", ctx),
            "\xC3\xA9\xC3\xA9loll\xC3\xA9h5[10, 30]");
  EXPECT_EQ(render("[{{ d.missing }}][{{ l[10] }}][{{ none.x }}]", ctx), "[][][]");
  EXPECT_NE(error_of("{{ d.missing.x }}", ctx).find("'dict object' has no attribute 'missing'"),
            std::string::npos);
  EXPECT_NE(error_of("{{ l[10].x }}", ctx).find("list object has no element 10"),
            std::string::npos);
  EXPECT_NE(error_of("{{ nothing.x }}").find("'nothing' is undefined"), std::string::npos);
}

TEST(ChatLanguage, UndefinedSemantics) {
  EXPECT_EQ(
      render("[{{ x }}{{ x|length }}{{ x|upper }}{{ x|list }}{{ x is defined }}{{ x == y }}]"),
      "[0[]FalseTrue]");
  EXPECT_EQ(render("{% for i in x %}no{% else %}empty{% endfor %}{{ 'a' in x }}"), "emptyFalse");
  EXPECT_NE(error_of("{{ x + 1 }}").find("'x' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{{ x|tojson }}").find("not JSON serializable"), std::string::npos);
  EXPECT_NE(error_of("{{ x() }}").find("undefined"), std::string::npos);
}

TEST(ChatLanguage, ImmutableSandboxRefusesMutation) {
  EXPECT_EQ(render("[{{ [1].append }}]"), "[]");
  EXPECT_NE(error_of("{{ [1].append(2) }}").find("unsafe"), std::string::npos);
  EXPECT_NE(error_of("{{ {'a': 1}.update({}) }}").find("unsafe"), std::string::npos);
}

TEST(ChatLanguage, LoopVariable) {
  EXPECT_EQ(
      render("{% for x in [1, 2, 3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
             "{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}|{% endfor %}"),
      "103TrueFalse3|212FalseFalse31|321FalseTrue32|");
  EXPECT_EQ(
      render("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }} {% endfor %}"),
      "2/2 4/2 ");
  EXPECT_EQ(render("{% for x in 'ab' %}{{ loop.cycle('o', 'e') }}{{ loop.nextitem }}{% endfor %}"),
            "obe");
}

TEST(ChatLanguage, LoopControlAndElse) {
  EXPECT_EQ(render("{% for i in range(6) %}{% if i == 1 %}{% continue %}{% endif %}"
                   "{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
            "023");
  EXPECT_EQ(render("{% for i in [] %}x{% else %}none{% endfor %}"), "none");
  // Jinja runs `else` when no iteration reached the end of the body.
  EXPECT_EQ(render("{% for i in [1] %}{{ i }}{% break %}{% else %}E{% endfor %}"), "1E");
}

TEST(ChatLanguage, ScopingLikeJinja) {
  EXPECT_EQ(
      render("{% set c = 0 %}{% for i in [1, 2] %}{% set c = c + 1 %}{{ c }}{% endfor %}{{ c }}"),
      "110");
  EXPECT_EQ(render("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"), "5");
  EXPECT_EQ(render("{% with a = 1 %}{{ a }}{% endwith %}[{{ a }}]"), "1[]");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}"
                   "{% endfor %}{{ ns.n }} {{ ns }}"),
            "3 <Namespace {'n': 3}>");
  // A namespace that holds itself prints like Jinja2 3.1.6's (the fuzzer found a stack overflow here),
  // and a chain of namespaces deeper than the repr limit is an error, not a crash.
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% set ns.n = ns %}{{ ns.n }}|{{ ns }}"),
            "<Namespace {'n': <Namespace {...}>}>|<Namespace {'n': <Namespace {...}>}>");
  EXPECT_NE(error_of("{% set h = namespace(v=0) %}{% for i in range(2000) %}{% set h.v = namespace(n=h.v) %}"
                     "{% endfor %}{{ h.v }}")
                .find("recursion depth"),
            std::string::npos);
  EXPECT_NE(error_of("{% set x = 1 %}{% set x.y = 2 %}").find("non-namespace"), std::string::npos);
}

TEST(ChatLanguage, SetForms) {
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}"), "12(1, 2)");
  EXPECT_EQ(render("{% set x %}v={{ 1 + 1 }}{% endset %}[{{ x }}]"), "[v=2]");
  EXPECT_EQ(render("{% set x | upper %}hi{% endset %}{{ x }}"), "HI");
  EXPECT_NE(error_of("{% for a, b in [(1, 2, 3)] %}{% endfor %}").find("too many values"),
            std::string::npos);
}

TEST(ChatLanguage, Macros) {
  EXPECT_EQ(render("{% macro m(a, b=2, c='x') %}{{ a }}-{{ b }}-{{ c }}{% endmacro %}"
                   "{{ m(1) }}|{{ m(1, 3) }}|{{ m(1, c='y') }}|{{ m(b=5, a=4) }}|{{ m() }}"),
            "1-2-x|1-3-x|1-2-y|4-5-x|-2-x");
  EXPECT_EQ(
      render("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}"),
      "1(2,){'k': 3}");
  EXPECT_EQ(
      render(
          "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"),
      "321");
  EXPECT_EQ(render("{% macro m() %}{{ late }}{% endmacro %}{% set late = 9 %}{{ m() }}"), "9");
  EXPECT_EQ(render("{% macro w() %}[{{ caller(2) }}]{% endmacro %}{% call(x) w() %}{{ x * 3 }}{% "
                   "endcall %}"),
            "[6]");
  EXPECT_NE(error_of("{% macro m() %}{% endmacro %}{{ m(1) }}").find("takes not more than 0"),
            std::string::npos);
  EXPECT_NE(error_of("{% macro m() %}{% endmacro %}{{ m(a=1) }}").find("no keyword argument 'a'"),
            std::string::npos);
}

TEST(ChatLanguage, FilterBlockAndGlobals) {
  EXPECT_EQ(render("{% filter upper %}ab{{ 'c' }}{% endfilter %}"), "ABC");
  EXPECT_EQ(render("{{ range(3)|list }}{{ range(5, 0, -2)|list }}{{ dict(a=1) }}"),
            "[0, 1, 2][5, 3, 1]{'a': 1}");
  EXPECT_NE(error_of("{{ range(1000000)|length }}").find("Range too big"), std::string::npos);
  EXPECT_NE(error_of("{{ raise_exception('Roles must alternate') }}").find("Roles must alternate"),
            std::string::npos);
  EXPECT_EQ(render("{{ strftime_now('%Y')|length }}"), "4");
}

}  // namespace
}  // namespace helix::chat::test

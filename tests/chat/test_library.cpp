// Chat templates, the library: filters (tojson as Hugging Face defines it), tests, string
// methods and formatting; plus the API (render_chat, fallback template) and the limits that
// stop runaway templates. Expected outputs were checked against Python's jinja2 3.1.
#include "chat_test_util.h"

namespace helix::chat::test {
namespace {

TEST(ChatLibrary, ToJsonIsJsonDumps) {
  const Json ctx = {{"t", Json::parse(R"({"b": 2, "a": [1, {"c": "é"}], "f": 1.0, "n": null})")}};
  EXPECT_EQ(render("{{ t|tojson }}", ctx),
            R"({"b": 2, "a": [1, {"c": "é"}], "f": 1.0, "n": null})");
  EXPECT_EQ(render("{{ t.a|tojson(indent=2) }}", ctx), "[\n  1,\n  {\n    \"c\": \"é\"\n  }\n]");
  EXPECT_EQ(render("{{ t|tojson(sort_keys=true, separators=(',', ':')) }}", ctx),
            R"({"a":[1,{"c":"é"}],"b":2,"f":1.0,"n":null})");
  EXPECT_EQ(render(R"({{ "é\n\"\u0001"|tojson }}{{ "é"|tojson(ensure_ascii=true) }})"),
            R"("é\n\"\u0001""\u00e9")");
  EXPECT_EQ(render("{{ []|tojson(indent=4) }}{{ {}|tojson }}{{ (1, 2)|tojson }}"), "[]{}[1, 2]");
}

TEST(ChatLibrary, StringFilters) {
  EXPECT_EQ(render("{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello world'|title }}|"
                   "{{ 'hELLO'|capitalize }}|{{ 'a-b (c'|title }}"),
            "x|hi|Hello World|Hello|A-B (C");
  EXPECT_EQ(
      render("{{ 'a b'|replace(' ', '_') }}{{ 'aaa'|replace('a', 'b', 2) }}{{ 'abc'|reverse }}"),
      "a_bbbacba");
  EXPECT_EQ(render("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'x\ny'|indent(2, true) }}"),
            "a\n  b\n\n  c|  x\n  y");
  EXPECT_EQ(render("{{ '  two words '|wordcount }}{{ 'hi'|center(6) }}|{{ '<b>x</b>'|striptags }}"),
            "2  hi  |x");
  EXPECT_EQ(render("{{ '%s-%03d'|format('a', 7) }}{{ '%.2f' % 3.14159 }}{{ '%(k)s' % {'k': 1} }}"),
            "a-0073.141");
}

TEST(ChatLibrary, SequenceFilters) {
  EXPECT_EQ(render("{{ [3, 1, 2]|sort }}{{ ['b', 'A', 'c']|sort }}{{ [3, 1]|sort(reverse=true) }}"),
            "[1, 2, 3]['A', 'b', 'c'][3, 1]");
  EXPECT_EQ(
      render("{{ [{'n': 'b'}, {'n': 'a'}]|sort(attribute='n')|map(attribute='n')|join(',') }}"),
      "a,b");
  EXPECT_EQ(render("{{ [1, 2, 3, 4]|select('odd')|list }}{{ [1, 2, 3]|reject('equalto', 2)|list }}"
                   "{{ [{'r': 'u'}, {'r': 'a'}]|selectattr('r', 'eq', 'u')|list|length }}"),
            "[1, 3][1, 3]1");
  EXPECT_EQ(render("{{ [1, 2, 2, 'a', 'A']|unique|list }}{{ [1, 2, 3]|first }}{{ [1, 2, 3]|last }}"
                   "{{ [1, 2, 3]|sum }}{{ [4, 9]|max }}{{ ['a', 'b']|map('upper')|join }}"),
            "[1, 2, 'a']1369AB");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2}|dictsort }}{{ {'k': 'v'}|items|list }}"),
            "[('a', 2), ('b', 1)][('k', 'v')]");
  EXPECT_EQ(render("{{ [1, 2, 3, 4, 5]|batch(2)|list }}{{ [1, 2, 3]|slice(2)|list }}"),
            "[[1, 2], [3, 4], [5]][[1, 2], [3]]");
  // Generator filters print as generators and have no length, as in Jinja.
  EXPECT_NE(error_of("{{ [1]|select|length }}").find("has no len()"), std::string::npos);
  EXPECT_EQ(render("{{ x|default('d') }}{{ none|default('n') }}{{ ''|d('e', true) }}"), "dNonee");
}

TEST(ChatLibrary, NumberFilters) {
  EXPECT_EQ(
      render("{{ 3.7|int }}{{ '42'|int }}{{ '4.9'|int }}{{ 'x'|int }}{{ '0x1A'|int(0, 16) }}"),
      "3424026");
  EXPECT_EQ(render("{{ '4.5'|float }}{{ 2.567|round(2) }}{{ 2.5|round }}{{ 3.5|round }}{{ "
                   "2.1|round(0, 'ceil') }}"),
            "4.52.572.04.03.0");
  EXPECT_EQ(render("{{ 1234567|filesizeformat }}"), "1.2 MB");
}

TEST(ChatLibrary, Tests) {
  EXPECT_EQ(render("{{ 1 is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}"
                   "{{ 'a' is string }}{{ {} is mapping }}{{ {} is sequence }}{{ 1 is iterable }}"),
            "TrueTrueTrueTrueTrueTrueTrueFalse");
  EXPECT_EQ(render("{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 1 is in [1] }}"
                   "{{ 2 is equalto 2 }}{{ 1 is true }}{{ none is none }}{{ x is not defined }}"),
            "TrueTrueTrueTrueTrueFalseTrueTrue");
}

TEST(ChatLibrary, StringMethods) {
  EXPECT_EQ(render("{{ 'a,b,c'.split(',') }}{{ ' a  b '.split() }}{{ 'a,b,c'.rsplit(',', 1) }}"),
            "['a', 'b', 'c']['a', 'b']['a,b', 'c']");
  EXPECT_EQ(
      render(
          "{{ '\n\nhi\n'.lstrip('\n') }}|{{ 'xhix'.strip('x') }}|{{ 'Hi'.startswith(('x', 'H')) }}"
          "{{ 'hello'.find('l') }}{{ 'hello'.rfind('l') }}{{ 'hello'.count('l') }}"),
      "hi\n|hi|True232");
  EXPECT_EQ(render("{{ '-'.join(['a', 'b']) }}{{ 'hi'.upper() }}{{ 'ab'.replace('', '-') }}"
                   "{{ 'x'.center(5, '*') }}{{ '7'.zfill(3) }}{{ 'a=b'.partition('=') }}"),
            "a-bHI-a-b-**x**007('a', '=', 'b')");
  EXPECT_EQ(render("{{ '{} is {:>4}'.format('a', 1) }}|{{ '{name}!'.format(name='b') }}|{{ "
                   "'{:.2f}'.format(1.5) }}"),
            "a is    1|b!|1.50");
}

TEST(ChatLibrary, RenderChatAndFallback) {
  const Json messages = Json::parse(R"([{"role": "user", "content": "hi"}])");
  EXPECT_EQ(render_chat(fallback_chat_template(), messages, nullptr, true, "", ""),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(
      render_chat(
          "{{ bos_token }}{{ tools is none }}{{ add_generation_prompt }}{{ eos_token }}{{ extra }}",
          messages, nullptr, false, "<s>", "</s>", {{"extra", 1}}),
      "<s>TrueFalse</s>1");
  EXPECT_THROW(render_chat("x", messages, nullptr, false, "", "", {{"messages", 1}}), helix::Error);
  const Json parts = Json::parse(
      R"([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]}])");
  EXPECT_EQ(render_chat(fallback_chat_template(), parts, nullptr, false, "", ""),
            "<|im_start|>user\nab<|im_end|>\n");
}

TEST(ChatLibrary, AcceptsPlainNlohmannJson) {
  const nlohmann::json ctx = {{"a", 1}, {"messages", nlohmann::json::array()}};
  EXPECT_EQ(ChatTemplate::parse("{{ a }}{{ messages|length }}").render(ctx), "10");
  EXPECT_EQ(render_chat("{{ messages[0].content }}", nlohmann::json::parse(R"([{"content": "x"}])"),
                        nlohmann::json(), false, "", ""),
            "x");
}

TEST(ChatLibrary, KeyOrderOfInputIsKept) {
  const Json ctx = {{"t", Json::parse(R"({"type": "function", "function": {"name": "f"}})")}};
  EXPECT_EQ(render("{{ t|tojson }}{% for k in t %}{{ k }}{% endfor %}", ctx),
            R"({"type": "function", "function": {"name": "f"}}typefunction)");
}

TEST(ChatLibrary, LimitsStopRunawayTemplates) {
  Limits small;
  small.max_steps = 10000;
  small.max_output = 1 << 16;
  EXPECT_NE(
      error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
               Json::object(), small)
          .find("too long"),
      std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 100000000000 }}", Json::object(), small).find("too large"),
            std::string::npos);
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("recursion"),
            std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}")
                .find("nested too deeply"),
            std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(300, '[') + std::string(300, ']') + " }}")
                .find("nested too deeply"),
            std::string::npos);
}

}  // namespace
}  // namespace helix::chat::test

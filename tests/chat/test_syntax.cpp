// Chat templates, the lexer's side: whitespace control (-, +), trim_blocks and lstrip_blocks as
// Hugging Face configures Jinja, comments, raw blocks, literals, and syntax errors with lines.
// Expected outputs were checked against Python's jinja2 3.1.
#include "chat_test_util.h"

namespace helix::chat::test {
namespace {

TEST(ChatSyntax, TrimBlocksDropsNewlineAfterBlockTag) {
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\nend"), "yes\nend");
  EXPECT_EQ(render("{# c #}\nx"), "x");
  EXPECT_EQ(render("{{ 'v' }}\nx"), "v\nx");  // not after a print tag
}

TEST(ChatSyntax, LstripBlocksDropsIndentBeforeBlockTag) {
  EXPECT_EQ(render("a\n  {% if true %}\n  b\n  {% endif %}\nc"), "a\n  b\nc");
  EXPECT_EQ(render("  {{ 'x' }}"), "  x");                    // print tags keep their indent
  EXPECT_EQ(render("x  {% if true %}y{% endif %}"), "x  y");  // only at a line's start
  EXPECT_EQ(render("\t{% if true %}tab{% endif %}"), "tab");
}

TEST(ChatSyntax, PlusDisablesLstripAndTrim) {
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");
  EXPECT_EQ(render("{% if true +%}\nx{% endif %}"), "\nx");
}

TEST(ChatSyntax, MinusStripsAllWhitespace) {
  EXPECT_EQ(render("a  \n {{- 'b' -}} \n  c"), "abc");
  EXPECT_EQ(render("a\n\n{%- if true -%}\n\n b {%- endif %}"), "ab");
  EXPECT_EQ(render("x {#- note -#}   y"), "xy");
}

TEST(ChatSyntax, OneTrailingNewlineIsDropped) {
  EXPECT_EQ(render("line\n"), "line");
  EXPECT_EQ(render("line\n\n"), "line\n");
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");
}

TEST(ChatSyntax, CommentsAndRaw) {
  EXPECT_EQ(render("a{#\nmulti\nline #}b"), "ab");
  EXPECT_EQ(render("{% raw %}{{ not parsed }}{% endraw %}"), "{{ not parsed }}");
  EXPECT_EQ(render("  {%- raw -%}  in  {%- endraw -%}  out"), "inout");
}

TEST(ChatSyntax, Literals) {
  EXPECT_EQ(render("{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }} {{ 2.5 }}"),
            "1000 31 15 5 1500.0 2.5");
  EXPECT_EQ(render(R"({{ "\x41\u00e9\n\t\\" }}{{ 'it\'s' }}{{ "\q" }})"), "A\xC3\xA9\n\t\\it's\\q");
  EXPECT_EQ(render("{{ 'a' \"b\" 'c' }}"), "abc");
  EXPECT_EQ(render("{{ none }} {{ None }} {{ true }} {{ False }}"), "None None True False");
  EXPECT_EQ(render("{% set x = {'a': '}}'} %}{{ x.a }}"), "}}");
}

TEST(ChatSyntax, ErrorsNameTheLine) {
  EXPECT_NE(error_of("a\nb\n{{ x + }}").find("line 3"), std::string::npos);
  EXPECT_NE(error_of("{% for x in y %}\n").find("endfor"), std::string::npos);
  EXPECT_NE(error_of("\n{% foo %}").find("line 2"), std::string::npos);
  EXPECT_NE(error_of("{{ 'open }}").find("line 1"), std::string::npos);
  EXPECT_NE(error_of("{# open").find("comment"), std::string::npos);
  EXPECT_NE(error_of("{{ (1 }}").find("line 1"), std::string::npos);
  EXPECT_NE(error_of("{{ a ! b }}").find("unexpected char"), std::string::npos);
  EXPECT_NE(error_of("{% break %}").find("outside loop"), std::string::npos);
  EXPECT_NE(error_of("{% include 'x' %}").find("not supported"), std::string::npos);
  EXPECT_NE(error_of("{% macro m(a=1, b) %}{% endmacro %}").find("non-default"), std::string::npos);
  EXPECT_NE(error_of("{% set 1 = 2 %}").find("assign"), std::string::npos);
}

TEST(ChatSyntax, UnknownFilterFailsAtParseUnlessInsideIf) {
  EXPECT_NE(error_of("{% if false %}{% endif %}{{ x|nope }}").find("No filter named 'nope'"),
            std::string::npos);
  EXPECT_EQ(render("{% if false %}{{ x|nope }}{% endif %}ok"), "ok");
  EXPECT_NE(error_of("{% if true %}{{ x|nope }}{% endif %}").find("nope"), std::string::npos);
  EXPECT_NE(error_of("{{ x is nope }}").find("No test named"), std::string::npos);
}

TEST(ChatSyntax, InvalidUtf8IsRejected) {
  EXPECT_NE(error_of("bad \xFF byte").find("UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace helix::chat::test

// The byte-level matcher on hand-written JSON: what each supported keyword accepts and refuses,
// whitespace limits, and the keywords the compiler refuses.
#include <gtest/gtest.h>

#include "grammar_test_util.h"

namespace helix::grammar {
namespace {

using testing::accepts;
using testing::alive;
using testing::compile;

struct Case {
  const char* text;
  bool ok;
};

void check(const char* schema, std::initializer_list<Case> cases) {
  const auto g = compile(schema);
  for (const auto& c : cases) EXPECT_EQ(accepts(*g, c.text), c.ok) << "schema " << schema << "\ntext " << c.text;
}

TEST(GrammarMatcher, Scalars) {
  check(R"({"type":"string"})", {{R"("")", true}, {R"("héllo \"x\" \\ \/ \n \u00e9")", true}, {R"("a)", false},
                                 {"\"a\nb\"", false}, {R"('a')", false}, {"1", false}, {R"("\x")", false},
                                 {R"("\u12")", false}, {R"("\ud83d\ude00")", false}});
  check(R"({"type":"integer"})", {{"0", true}, {"-0", true}, {"42", true}, {"-17", true}, {"01", false},
                                  {"1.5", false}, {"1e3", false}, {"-", false}, {"", false}, {" 7", true}, {"7 ", false}});
  check(R"({"type":"number"})", {{"0", true}, {"-0.5", true}, {"3.25e-7", true}, {"1E+9", true}, {"1.", false},
                                 {".5", false}, {"1e", false}, {"+1", false}, {"00", false},
                                 {"1234567890123456789", false}});
  check(R"({"type":"boolean"})", {{"true", true}, {"false", true}, {"tru", false}, {"truee", false}, {"null", false}});
  check(R"({"type":"null"})", {{"null", true}, {"nul", false}});
  check(R"({"type":["string","null"]})", {{"null", true}, {R"("x")", true}, {"1", false}});
}

TEST(GrammarMatcher, IntegerRange) {
  check(R"({"type":"integer","minimum":-5,"maximum":120})",
        {{"-5", true}, {"-6", false}, {"0", true}, {"120", true}, {"121", false}, {"99", true}, {"1000", false},
         {"-10", false}});
  check(R"({"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10})",
        {{"0", false}, {"1", true}, {"9", true}, {"10", false}, {"-1", false}});
  const auto g = compile(R"({"type":"integer","minimum":10,"maximum":20})");
  EXPECT_TRUE(alive(*g, "1"));    // 1x can still fit
  EXPECT_FALSE(alive(*g, "3"));   // no 3... is in range
  EXPECT_FALSE(alive(*g, "-"));   // no negatives
  EXPECT_FALSE(accepts(*g, "1"));
}

TEST(GrammarMatcher, StringLength) {
  check(R"({"type":"string","minLength":2,"maxLength":3})",
        {{R"("a")", false}, {R"("ab")", true}, {R"("abc")", true}, {R"("abcd")", false}, {R"("éé")", true},
         {R"("\n\t")", true}, {R"("\u00e9\u00e9\u00e9\u00e9")", false}, {"\"\xF0\x9F\x98\x80\"", false},
         {"\"\xF0\x9F\x98\x80x\"", true}});
}

TEST(GrammarMatcher, InvalidUtf8IsRefused) {
  check(R"({"type":"string"})", {{"\"\xC3\xA9\"", true}, {"\"\xC3\"", false}, {"\"\xC0\xAF\"", false},
                                 {"\"\xED\xA0\x80\"", false}, {"\"\xF4\x90\x80\x80\"", false},
                                 {"\"\xE0\x80\x80\"", false}, {"\"\xFF\"", false}, {"\"\x80\"", false}});
}

TEST(GrammarMatcher, ObjectPropertiesInOrder) {
  const char* schema = R"({"type":"object","properties":{
      "name":{"type":"string"},"age":{"type":"integer"},"email":{"type":"string"}},
      "required":["name","email"]})";
  check(schema, {{R"({"name":"a","age":3,"email":"e"})", true},
                 {R"({"name":"a","email":"e"})", true},
                 {R"({"email":"e","name":"a"})", false},  // schema order only
                 {R"({"name":"a"})", false},                // missing required
                 {R"({"name":"a","age":3})", false},
                 {R"({"name":"a","email":"e","extra":1})", false},
                 {R"({"name":"a","age":"3","email":"e"})", false},
                 {R"({"name":"a",,"email":"e"})", false},
                 {R"({"name":"a","email":"e",})", false},
                 {"{\n  \"name\": \"a\",\n  \"email\": \"e\"\n}", true},
                 {R"({ "name" : "a" , "email" : "e" })", true}});
  check(R"({"type":"object","properties":{"a":{"type":"integer"},"ab":{"type":"integer"}}})",
        {{"{}", true}, {R"({"a":1})", true}, {R"({"ab":1})", true}, {R"({"a":1,"ab":2})", true},
         {R"({"ab":1,"a":2})", false}, {R"({"a":1,"a":2})", false}});
  check(R"({"type":"object","properties":{},"additionalProperties":false})", {{"{}", true}, {R"({"a":1})", false}});
  // Keys that need escaping are matched in their JSON spelling.
  check(R"({"type":"object","properties":{"a\"b":{"const":1}},"required":["a\"b"]})",
        {{R"({"a\"b":1})", true}, {R"({"ab":1})", false}});
}

TEST(GrammarMatcher, FreeObjects) {
  check(R"({"type":"object"})", {{"{}", true}, {R"({"x":[1,{"y":null}],"z":"w"})", true}, {"[]", false},
                                 {R"({"x"})", false}, {R"({1:2})", false}});
  check(R"({"type":"object","additionalProperties":{"type":"integer"}})",
        {{R"({"a":1,"b":2})", true}, {R"({"a":"1"})", false}});
}

TEST(GrammarMatcher, Arrays) {
  check(R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})",
        {{"[]", false}, {"[1]", true}, {"[1,2,3]", true}, {"[1,2,3,4]", false}, {"[1,]", false},
         {"[ 1 , 2 ]", true}, {R"(["1"])", false}});
  check(R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false})",
        {{R"(["a",1])", true}, {R"(["a"])", true}, {R"([1,"a"])", false}, {R"(["a",1,2])", false}});
  check(R"({"type":"array"})", {{R"([1,"a",null,[],{}])", true}});
}

TEST(GrammarMatcher, EnumConstAnyOf) {
  check(R"({"enum":["red","green",1,12,null]})",
        {{R"("red")", true}, {R"("gree")", false}, {"1", true}, {"12", true}, {"123", false}, {"null", true},
         {"[1]", false}});
  check(R"({"type":"string","enum":["a",1]})", {{R"("a")", true}, {"1", false}});
  check(R"({"const":{"k":[1,2]}})", {{R"({"k":[1,2]})", true}, {R"({"k":[1]})", false}});
  check(R"({"anyOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                     {"type":"object","properties":{"b":{"type":"string"}},"required":["b"]},
                     {"type":"integer"}]})",
        {{R"({"a":1})", true}, {R"({"b":"x"})", true}, {R"({"a":"x"})", false}, {"5", true}, {R"({})", false}});
  check(R"({"oneOf":[{"type":"string","maxLength":2},{"type":"string","minLength":5}]})",
        {{R"("ab")", true}, {R"("abc")", false}, {R"("abcde")", true}});
}

TEST(GrammarMatcher, Refs) {
  check(R"({"$defs":{"pt":{"type":"object","properties":{"x":{"type":"number"}},"required":["x"]}},
            "type":"array","items":{"$ref":"#/$defs/pt"}})",
        {{R"([{"x":1},{"x":2.5}])", true}, {R"([{"y":1}])", false}});
  check(R"({"definitions":{"s":{"type":"string"}},"allOf":[{"$ref":"#/definitions/s"}]})",
        {{R"("x")", true}, {"1", false}});
  // Recursion through the stack: a tree of nodes.
  check(R"({"type":"object","properties":{"v":{"type":"integer"},
            "kids":{"type":"array","items":{"$ref":"#"}}},"required":["v"]})",
        {{R"({"v":1})", true}, {R"({"v":1,"kids":[{"v":2,"kids":[{"v":3}]},{"v":4}]})", true},
         {R"({"v":1,"kids":[{"kids":[]}]})", false}});
}

TEST(GrammarMatcher, WhitespaceIsBounded) {
  const auto g = compile(R"({"type":"object"})");
  EXPECT_TRUE(accepts(*g, "{\n" + std::string(20, ' ') + "\"a\": 1\n}"));
  EXPECT_FALSE(accepts(*g, "{\n" + std::string(21, ' ') + "\"a\": 1}"));
  EXPECT_FALSE(accepts(*g, "{  \"a\": 1}"));    // two spaces
  EXPECT_FALSE(accepts(*g, "{\n\n\"a\": 1}"));  // two newlines
  EXPECT_TRUE(accepts(*g, " {}"));
  EXPECT_FALSE(accepts(*g, "{} "));  // generation ends with the value
  EXPECT_FALSE(accepts(*g, "{} {}"));
}

TEST(GrammarMatcher, NestingIsBounded) {
  const auto g = compile(R"({"type":"array"})");
  const std::string deep = std::string(kMaxDepth, '[') + std::string(kMaxDepth, ']');
  EXPECT_TRUE(accepts(*g, deep));
  EXPECT_FALSE(alive(*g, "[" + deep));
}

TEST(GrammarMatcher, Completeness) {
  const auto g = compile(R"({"type":"integer"})");
  Matcher m(*g);
  State s = m.start();
  ASSERT_TRUE(m.advance(s, "12"));
  EXPECT_TRUE(m.complete(s));  // a number is complete before the byte that ends it
  ASSERT_TRUE(m.advance(s, "3"));
  EXPECT_TRUE(m.complete(s));
}

TEST(GrammarSchema, RefusesWhatItCannotEnforce) {
  for (const char* schema :
       {R"({"type":"string","pattern":"^a"})", R"({"not":{"type":"string"}})", R"({"type":"number","minimum":0})",
        R"({"type":"array","uniqueItems":true})", R"({"type":"integer","multipleOf":2})",
        R"({"allOf":[{"type":"string"},{"maxLength":3}]})", R"({"$ref":"#/$defs/missing"})",
        R"({"$ref":"http://example.com/s.json"})", R"({"type":"string","anyOf":[{"maxLength":2}]})",
        R"({"type":"strin"})", R"({"$ref":"#"})", R"(false)", R"({"type":"string","minLength":3,"maxLength":2})",
        R"({"type":"object","properties":{"a":{"type":"string","pattern":"x"}}})", "[1]", "{",
        R"({"type":"object","properties":{"a":{}},"required":["b"],"additionalProperties":false})"}) {
    EXPECT_THROW(compile(schema), SchemaError) << schema;
  }
  try {
    compile(R"({"type":"object","properties":{"a":{"type":"string","pattern":"x"}}})");
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("'pattern'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("#/properties/a"), std::string::npos) << e.what();
  }
  // Annotations and unknown keywords are ignored.
  EXPECT_NO_THROW(compile(R"({"title":"t","description":"d","$schema":"x","default":1,"examples":[],
                              "type":"string","format":"date-time","x-custom":true})"));
}

}  // namespace
}  // namespace helix::grammar

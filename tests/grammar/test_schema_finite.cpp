// Schemas that no finite value satisfies are refused (issue 18): a required property whose schema
// is its own object, through $ref or $defs, with no alternative that ends. Recursion with a base
// case (an optional property, an array that may be empty, an anyOf with a leaf) still compiles.
#include <gtest/gtest.h>

#include <string>

#include "grammar_test_util.h"

namespace helix::grammar {
namespace {

using testing::compile;

TEST(GrammarSchema, RefusesSchemasWithoutAFiniteValue) {
  for (const char* schema : {
           R"({"type":"object","properties":{"next":{"$ref":"#"}},"required":["next"]})",
           R"({"$defs":{"a":{"type":"object","properties":{"b":{"$ref":"#/$defs/b"}},"required":["b"]},
                         "b":{"type":"array","items":{"$ref":"#/$defs/a"},"minItems":1}},
               "$ref":"#/$defs/a"})",
           R"({"type":"object","properties":{"x":{"type":"string"},"loop":{"$ref":"#/$defs/l"}},
               "$defs":{"l":{"type":"object","properties":{"l":{"$ref":"#/$defs/l"}},"required":["l"]}}})",
           R"({"type":"array","prefixItems":[{"type":"string"},{"$ref":"#"}],"minItems":2})",
       }) {
    try {
      compile(schema);
      ADD_FAILURE() << "compiled: " << schema;
    } catch (const SchemaError& e) {
      EXPECT_NE(std::string(e.what()).find("no finite JSON value"), std::string::npos) << e.what();
    }
  }
}

TEST(GrammarSchema, RecursionWithABaseCaseCompiles) {
  for (const char* schema : {
           R"({"type":"object","properties":{"next":{"$ref":"#"}}})",
           R"({"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#"}}},"required":["kids"]})",
           R"({"anyOf":[{"type":"null"},{"type":"object","properties":{"n":{"$ref":"#"}},"required":["n"]}]})",
           R"({"type":"object","properties":{"v":{"type":"integer"},"n":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},
               "required":["v","n"]})",
           R"({"type":"array","items":{"type":"string"},"minItems":1000000000000})",
       }) {
    EXPECT_NO_THROW(compile(schema)) << schema;
  }
}

}  // namespace
}  // namespace helix::grammar

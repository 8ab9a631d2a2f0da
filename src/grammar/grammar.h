// Structured output, part 1: a JSON Schema compiled into a small graph of JSON value shapes
// (object with ordered properties, array, string, number, literal set, alternatives). The graph
// is what the byte-level matcher (matcher.h) walks; it is immutable once built, so one Grammar
// serves every sequence of a request.
//
//   auto g = Grammar::from_json_schema(nlohmann::ordered_json::parse(R"({"type":"integer"})"));
//   auto any = Grammar::any_object();  // OpenAI's response_format {"type": "json_object"}
//
// Supported keywords: type (string or list), properties + required (properties appear in schema
// order; optional ones may be left out; properties not listed are never generated, whatever
// additionalProperties says), additionalProperties (for objects without properties), items,
// prefixItems, minItems, maxItems, minLength, maxLength, enum, const, anyOf, oneOf (treated as
// anyOf), allOf with one member, $ref to any JSON pointer in the document ("#/$defs/x",
// "#/definitions/x", "#"; recursion allowed), integer minimum/maximum/exclusiveMinimum/
// exclusiveMaximum. Annotations (title, description, default, examples, format, ...) and unknown
// keywords are ignored, as JSON Schema itself ignores unknown keywords. Validation keywords this
// compiler cannot enforce (pattern, not, if/then/else, uniqueItems, multipleOf, number bounds,
// ...) are refused with a SchemaError naming the keyword and where it is, so a request never gets
// output that silently ignores a constraint.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace helix::grammar {

using ojson = nlohmann::ordered_json;  // ordered: property order in a schema is output order

// A schema this compiler refuses or cannot read; the message names the keyword and its path.
class SchemaError : public Error {
 public:
  explicit SchemaError(const std::string& what) : Error(what) {}
};

enum class Kind : uint8_t {
  kObject,   // '{' ... '}': listed properties in order, or free keys (free_keys)
  kArray,    // '[' ... ']'
  kString,   // '"' ... '"' with a length range in characters (code points)
  kNumber,   // JSON number; `integer` limits it to an optional '-' and digits (and a range)
  kLiteral,  // one of a set of exact JSON texts (enum, const, true/false, null)
  kAnyOf,    // one of several nodes; never on a matcher's stack, expanded when a value starts
};

struct Property {
  std::string key;  // the key as it must appear, JSON-encoded with its quotes: "\"name\""
  int32_t value = -1;
  bool required = false;
};

// Limits that keep a generated value finite: a model can otherwise write digits forever.
constexpr int kMaxIntDigits = 18;
constexpr int kMaxFracDigits = 18;
constexpr int kMaxExpDigits = 3;
constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();

struct Node {
  Kind kind = Kind::kAnyOf;
  // Object.
  std::vector<Property> props;
  std::vector<int32_t> next_required;  // [i]: first required property index >= i (props.size() if none)
  bool free_keys = false;              // any keys (no props), each value matching `value`
  int32_t value = -1;                  // free_keys: the schema of every value
  int32_t key = -1;                    // free_keys: a String node for the keys
  // Array: item i matches prefix[i], then `items` (-1: no more items).
  std::vector<int32_t> prefix;
  int32_t items = -1;
  int64_t min_items = 0, max_items = kUnbounded;
  // String: length in code points (an escape such as \n or \u00e9 counts one).
  int64_t min_len = 0, max_len = kUnbounded;
  // Number.
  bool integer = false;
  int64_t min_int = std::numeric_limits<int64_t>::min(), max_int = std::numeric_limits<int64_t>::max();
  // Literal: candidate texts, each a complete JSON value.
  std::vector<std::string> literals;
  // AnyOf.
  std::vector<int32_t> alts;
  // Bytes a value of this node can begin with (computed once the graph is complete).
  uint64_t first[4] = {0, 0, 0, 0};
  bool can_start(uint8_t c) const { return (first[c >> 6] >> (c & 63)) & 1; }
};

class Grammar {
 public:
  // Compiles a JSON Schema; throws SchemaError.
  static std::shared_ptr<const Grammar> from_json_schema(const ojson& schema);
  static std::shared_ptr<const Grammar> from_json_schema_text(std::string_view text);
  // Any JSON object (response_format json_object), or any JSON value.
  static std::shared_ptr<const Grammar> any_object();
  static std::shared_ptr<const Grammar> any_value();

  const Node& node(int32_t id) const { return nodes_[static_cast<size_t>(id)]; }
  int32_t root() const { return root_; }
  size_t size() const { return nodes_.size(); }

 private:
  friend class Compiler;
  std::vector<Node> nodes_;
  int32_t root_ = -1;
};

}  // namespace helix::grammar

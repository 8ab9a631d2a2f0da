// The matcher against a naive reference on random texts. The reference parses the text with
// nlohmann::json and validates the value with a direct reading of the schema, plus the output
// rules the matcher adds on purpose (listed properties in schema order and no others, no
// duplicate keys, integers without fraction or exponent, bounded whitespace runs and digit
// counts, no whitespace after the value). Texts come from a generator that follows the schema most of the time, then breaks it
// in small ways (wrong types, lengths, counts, order, whitespace, and a random byte edit).
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "grammar_test_util.h"

namespace helix::grammar {
namespace {

// ---- reference ----------------------------------------------------------------------------

// Whitespace runs and number spellings outside strings.
bool lexically_ok(const std::string& t) {
  size_t i = 0;
  while (i < t.size()) {
    const char c = t[i];
    if (c == '"') {  // skip the string
      ++i;
      while (i < t.size() && t[i] != '"') i += t[i] == '\\' ? 2 : 1;
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      size_t j = i;
      while (j < t.size() && (t[j] == ' ' || t[j] == '\t' || t[j] == '\n' || t[j] == '\r')) ++j;
      const std::string run = t.substr(i, j - i);
      const bool ok = run == " " || run == "\t" ||
                      (run[0] == '\n' && run.size() <= 1 + kMaxIndent &&
                       run.find_first_not_of(" \t", 1) == std::string::npos);
      if (!ok) return false;
      i = j;
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i;
      while (j < t.size() && std::string("0123456789+-.eE").find(t[j]) != std::string::npos) ++j;
      const std::string num = t.substr(i, j - i);
      const size_t e = num.find_first_of("eE"), dot = num.find('.');
      const size_t int_end = std::min(dot, e);
      const size_t int_digits = std::min(int_end, num.size()) - (num[0] == '-' ? 1 : 0);
      const size_t frac = dot == std::string::npos ? 0 : std::min(e, num.size()) - dot - 1;
      const size_t exp = e == std::string::npos ? 0 : num.size() - e - 1 - ((num.size() > e + 1 && (num[e + 1] == '+' || num[e + 1] == '-')) ? 1 : 0);
      if (int_digits > static_cast<size_t>(kMaxIntDigits) || frac > static_cast<size_t>(kMaxFracDigits) ||
          exp > static_cast<size_t>(kMaxExpDigits))
        return false;
      i = j;
      continue;
    }
    ++i;
  }
  return true;
}

struct Reference {
  const ojson& root;

  const ojson& resolve(const ojson& s) const {
    if (s.is_object() && s.contains("$ref")) return resolve(root.at(ojson::json_pointer(s["$ref"].get<std::string>().substr(1))));
    if (s.is_object() && s.contains("allOf")) return resolve(s["allOf"][0]);
    return s;
  }

  static int64_t code_points(const std::string& s) {
    int64_t n = 0;
    for (const unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }

  bool type_ok(const std::string& t, const ojson& s, const ojson& v) const {
    if (t == "null") return v.is_null();
    if (t == "boolean") return v.is_boolean();
    if (t == "integer") {
      if (!v.is_number_integer()) return false;
      const int64_t x = v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>()) : v.get<int64_t>();
      if (s.contains("minimum") && x < s["minimum"].get<double>()) return false;
      if (s.contains("maximum") && x > s["maximum"].get<double>()) return false;
      if (s.contains("exclusiveMinimum") && x <= s["exclusiveMinimum"].get<double>()) return false;
      if (s.contains("exclusiveMaximum") && x >= s["exclusiveMaximum"].get<double>()) return false;
      return true;
    }
    if (t == "number") return v.is_number();
    if (t == "string") {
      if (!v.is_string()) return false;
      const int64_t n = code_points(v.get<std::string>());
      return n >= s.value("minLength", int64_t{0}) && n <= s.value("maxLength", kUnbounded);
    }
    if (t == "array") {
      if (!v.is_array()) return false;
      const auto n = static_cast<int64_t>(v.size());
      if (n < s.value("minItems", int64_t{0}) || n > s.value("maxItems", kUnbounded)) return false;
      const ojson prefix = s.value("prefixItems", ojson::array());
      for (size_t i = 0; i < v.size(); ++i) {
        if (i < prefix.size()) {
          if (!valid(prefix[i], v[i])) return false;
        } else if (s.contains("items")) {
          if (s["items"].is_boolean() && !s["items"].get<bool>()) return false;
          if (!valid(s["items"], v[i])) return false;
        }
      }
      return true;
    }
    if (t == "object") {
      if (!v.is_object()) return false;
      const ojson req = s.value("required", ojson::array());
      for (const auto& r : req)
        if (!v.contains(r.get<std::string>())) return false;
      if (s.contains("properties")) {
        std::vector<std::string> names;
        for (const auto& [k, _] : s["properties"].items()) names.push_back(k);
        for (const auto& r : req)
          if (std::find(names.begin(), names.end(), r.get<std::string>()) == names.end()) names.push_back(r.get<std::string>());
        size_t next = 0;
        for (const auto& [k, x] : v.items()) {
          size_t at = next;
          while (at < names.size() && names[at] != k) ++at;
          if (at == names.size()) return false;  // unknown or out of order
          if (s["properties"].contains(k) && !valid(s["properties"][k], x)) return false;
          next = at + 1;
        }
        return true;
      }
      for (const auto& [k, x] : v.items()) {
        if (s.contains("additionalProperties") && s["additionalProperties"].is_object() && !valid(s["additionalProperties"], x))
          return false;
      }
      return true;
    }
    return false;
  }

  bool valid(const ojson& schema, const ojson& v) const {
    const ojson& s = resolve(schema);
    if (s.is_boolean()) return s.get<bool>();
    if (s.contains("const")) return v == s["const"];
    if (s.contains("enum")) {
      for (const auto& e : s["enum"])
        if (e == v && (!s.contains("type") || type_ok(s["type"].get<std::string>(), s, v))) return true;
      return false;
    }
    for (const char* w : {"anyOf", "oneOf"})
      if (s.contains(w)) {
        for (const auto& a : s[w])
          if (valid(a, v)) return true;
        return false;
      }
    if (!s.contains("type")) {
      if (s.contains("properties") || s.contains("required")) return type_ok("object", s, v);
      if (s.contains("items") || s.contains("prefixItems") || s.contains("minItems")) return type_ok("array", s, v);
      if (s.contains("minLength") || s.contains("maxLength")) return type_ok("string", s, v);
      return true;
    }
    if (s["type"].is_string()) return type_ok(s["type"].get<std::string>(), s, v);
    for (const auto& t : s["type"])
      if (type_ok(t.get<std::string>(), s, v)) return true;
    return false;
  }

  bool accepts(const std::string& text) const {
    if (!lexically_ok(text)) return false;
    if (!text.empty() && std::string(" \t\n\r").find(text.back()) != std::string::npos) return false;  // nothing after the value
    bool dup = false;
    std::vector<std::set<std::string>> keys;
    ojson v;
    try {
      v = ojson::parse(text, [&](int depth, ojson::parse_event_t ev, ojson& parsed) {
        (void)depth;
        if (ev == ojson::parse_event_t::object_start) keys.emplace_back();
        else if (ev == ojson::parse_event_t::object_end) keys.pop_back();
        else if (ev == ojson::parse_event_t::key && !keys.empty()) dup = dup || !keys.back().insert(parsed.get<std::string>()).second;
        return true;
      });
    } catch (const std::exception&) {
      return false;
    }
    return !dup && valid(root, v);
  }
};

// ---- generator ----------------------------------------------------------------------------

struct Generator {
  const ojson& root;
  std::mt19937_64 rng;

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

  std::string ws() {
    const int r = uniform(0, 99);
    if (r < 70) return "";
    if (r < 82) return " ";
    if (r < 85) return "\t";
    if (r < 96) return "\n" + std::string(static_cast<size_t>(uniform(0, 22)), ' ');
    if (r < 98) return "  ";
    return "\n\n";
  }

  std::string string_of(int64_t lo, int64_t hi) {
    static const char* pool[] = {"a", "b", "Z", " ", "\\n", "\\\"", "\\\\", "\\u00e9", "\xC3\xA9", "\xE2\x82\xAC",
                                 "\xF0\x9F\x98\x80", "/", "\\/", "'", "{", "]", ":", ","};
    const int64_t n = std::max<int64_t>(0, std::min<int64_t>(hi, lo + uniform(0, 6)) + (chance(0.1) ? uniform(-1, 1) : 0));
    std::string s = "\"";
    for (int64_t i = 0; i < n; ++i) s += pool[uniform(0, static_cast<int>(std::size(pool)) - 1)];
    return s + "\"";
  }

  std::string any(int depth) {
    switch (uniform(0, depth > 2 ? 3 : 5)) {
      case 0: return string_of(0, 4);
      case 1: return std::to_string(uniform(-50, 50));
      case 2: return chance(0.5) ? "true" : "null";
      case 3: return "1.5e3";
      case 4: {
        std::string s = "[" + ws();
        const int n = uniform(0, 2);
        for (int i = 0; i < n; ++i) s += (i ? "," + ws() : "") + any(depth + 1) + ws();
        return s + "]";
      }
      default: {
        std::string s = "{" + ws();
        const int n = uniform(0, 2);
        for (int i = 0; i < n; ++i)
          s += (i ? "," + ws() : "") + "\"" + std::string(static_cast<size_t>(i + 1), static_cast<char>('p' + i)) + "\"" + ws() + ":" + ws() + any(depth + 1) + ws();
        return s + "}";
      }
    }
  }

  const ojson& resolve(const ojson& s) {
    if (s.is_object() && s.contains("$ref")) return resolve(root.at(ojson::json_pointer(s["$ref"].get<std::string>().substr(1))));
    if (s.is_object() && s.contains("allOf")) return resolve(s["allOf"][0]);
    return s;
  }

  std::string value(const ojson& schema, int depth) {
    const ojson& s = resolve(schema);
    if (chance(0.04) || depth > 6) return any(depth);  // wrong type, most likely
    if (s.is_boolean() || s.empty()) return any(depth);
    if (s.contains("const")) return s["const"].dump();
    if (s.contains("enum")) return s["enum"][static_cast<size_t>(uniform(0, static_cast<int>(s["enum"].size()) - 1))].dump();
    for (const char* w : {"anyOf", "oneOf"})
      if (s.contains(w)) return value(s[w][static_cast<size_t>(uniform(0, static_cast<int>(s[w].size()) - 1))], depth);
    std::string t;
    if (s.contains("type")) {
      t = s["type"].is_string() ? s["type"].get<std::string>()
                                : s["type"][static_cast<size_t>(uniform(0, static_cast<int>(s["type"].size()) - 1))].get<std::string>();
    } else if (s.contains("properties") || s.contains("required")) {
      t = "object";
    } else if (s.contains("items") || s.contains("prefixItems")) {
      t = "array";
    } else {
      t = "string";
    }
    if (t == "null") return "null";
    if (t == "boolean") return chance(0.5) ? "true" : "false";
    if (t == "string") return string_of(s.value("minLength", int64_t{0}), s.value("maxLength", int64_t{12}));
    if (t == "integer") {
      const auto lo = static_cast<int>(s.value("minimum", -1000.0)), hi = static_cast<int>(s.value("maximum", 1000.0));
      return std::to_string(uniform(lo - 2, hi + 2));
    }
    if (t == "number") {
      static const char* nums[] = {"0", "-1", "3.25", "1e5", "-0.001", "2E-3", "12345678901234567890", "7"};
      return nums[uniform(0, static_cast<int>(std::size(nums)) - 1)];
    }
    if (t == "array") {
      const int64_t lo = s.value("minItems", int64_t{0});
      const int64_t hi = std::min<int64_t>(s.value("maxItems", int64_t{4}), lo + 3);
      const int64_t n = std::max<int64_t>(0, uniform(static_cast<int>(lo), static_cast<int>(hi)) + (chance(0.1) ? uniform(-1, 1) : 0));
      const ojson prefix = s.value("prefixItems", ojson::array());
      std::string out = "[" + ws();
      for (int64_t i = 0; i < n; ++i) {
        const ojson item = static_cast<size_t>(i) < prefix.size() ? prefix[static_cast<size_t>(i)] : s.value("items", ojson(true));
        out += (i ? "," + ws() : "") + value(item.is_boolean() ? ojson::object() : item, depth + 1) + ws();
      }
      return out + "]";
    }
    // object
    std::vector<std::pair<std::string, std::string>> kv;
    if (s.contains("properties")) {
      const ojson req = s.value("required", ojson::array());
      for (const auto& [k, sub] : s["properties"].items()) {
        const bool required = std::find(req.begin(), req.end(), ojson(k)) != req.end();
        if (chance(required ? 0.97 : 0.5)) kv.emplace_back(ojson(k).dump(), value(sub, depth + 1));
      }
      if (chance(0.05)) kv.emplace_back("\"extra\"", "1");
      if (kv.size() > 1 && chance(0.05)) std::swap(kv[0], kv[1]);
    } else {
      const ojson extra = s.value("additionalProperties", ojson(true));
      const int n = uniform(0, 3);
      for (int i = 0; i < n; ++i)
        kv.emplace_back("\"" + std::string(static_cast<size_t>(i + 1), static_cast<char>('k' + i)) + "\"",
                        extra.is_object() ? value(extra, depth + 1) : any(depth + 1));
    }
    std::string out = "{" + ws();
    for (size_t i = 0; i < kv.size(); ++i)
      out += (i ? "," + ws() : "") + kv[i].first + ws() + ":" + ws() + kv[i].second + ws();
    return out + "}";
  }

  std::string text() {
    std::string t = (chance(0.1) ? ws() : "") + value(root, 0) + (chance(0.1) ? ws() : "");
    if (chance(0.3) && !t.empty()) {
      static const std::string pool = "{}[]\",:0123456789abe-.\n \\";
      const auto at = static_cast<size_t>(uniform(0, static_cast<int>(t.size()) - 1));
      switch (uniform(0, 2)) {
        case 0: t.erase(at, 1); break;
        case 1: t.insert(at, 1, pool[static_cast<size_t>(uniform(0, static_cast<int>(pool.size()) - 1))]); break;
        default: t.resize(at); break;
      }
    }
    return t;
  }
};

const char* kSchemas[] = {
    R"({"type":"object","properties":{"name":{"type":"string","maxLength":8},"age":{"type":"integer","minimum":0,"maximum":150},
        "tags":{"type":"array","items":{"type":"string"},"maxItems":3},"ok":{"type":"boolean"}},"required":["name","age"]})",
    R"({"type":"array","items":{"type":"object","properties":{"kind":{"enum":["cat","dog","bird"]},"n":{"type":"number"}},
        "required":["kind"]},"minItems":1,"maxItems":4})",
    R"({"anyOf":[{"type":"string","minLength":2},{"type":"integer"},{"type":"null"},
                 {"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}]})",
    R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},
        "required":["v"]}},"$ref":"#/$defs/node"})",
    R"({"type":"object"})",
    R"({"type":"object","additionalProperties":{"type":["integer","null"]}})",
    R"({"type":"array","prefixItems":[{"type":"string"},{"const":7}],"items":{"type":"boolean"},"maxItems":4})",
    R"({"type":"object","properties":{"a":{"type":"string","minLength":1,"maxLength":3},"ab":{"enum":[1,12,"x"]},
        "b":{"type":"object","properties":{"c":{"type":"number"}}}},"required":["ab"]})",
    R"({"oneOf":[{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]},
                 {"type":"object","properties":{"x":{"type":"string"},"y":{"type":"string"}},"required":["x","y"]}]})",
};

TEST(GrammarReference, RandomTextsAgreeWithNaiveValidator) {
  for (size_t k = 0; k < std::size(kSchemas); ++k) {
    const ojson schema = ojson::parse(kSchemas[k]);
    const auto g = Grammar::from_json_schema(schema);
    Reference ref{schema};
    Generator gen{schema, std::mt19937_64(1000 + k)};
    int accepted = 0, rejected = 0;
    for (int i = 0; i < 600; ++i) {
      const std::string t = gen.text();
      const bool want = ref.accepts(t);
      ASSERT_EQ(testing::accepts(*g, t), want) << "schema " << k << ": " << kSchemas[k] << "\ntext: " << t;
      (want ? accepted : rejected)++;
    }
    EXPECT_GT(accepted, 60) << "schema " << k;
    EXPECT_GT(rejected, 60) << "schema " << k;
  }
}

}  // namespace
}  // namespace helix::grammar

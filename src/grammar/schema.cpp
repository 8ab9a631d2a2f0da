// JSON Schema -> Grammar (see grammar.h for what is supported and what is refused).
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "grammar/grammar.h"

namespace helix::grammar {
namespace {

// Keywords that only describe (or that this compiler reads elsewhere): never an error.
const std::set<std::string> kIgnored = {
    "title", "description", "$schema", "$id", "$comment", "$anchor", "default", "examples", "deprecated",
    "readOnly", "writeOnly", "format", "$defs", "definitions", "contentEncoding", "contentMediaType", "nullable",
    "discriminator", "name", "strict"};

// Keywords that constrain validity and are not enforced: refused rather than ignored.
const std::set<std::string> kRefused = {
    "pattern", "patternProperties", "propertyNames", "minProperties", "maxProperties", "dependentRequired",
    "dependentSchemas", "dependencies", "if", "then", "else", "not", "contains", "minContains", "maxContains",
    "multipleOf", "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef", "additionalItems",
    "contentSchema"};

const std::set<std::string> kObjectWords = {"properties", "required", "additionalProperties"};
const std::set<std::string> kArrayWords = {"items", "prefixItems", "minItems", "maxItems"};
const std::set<std::string> kStringWords = {"minLength", "maxLength"};
const std::set<std::string> kNumberWords = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};

}  // namespace

class Compiler {
 public:
  explicit Compiler(const ojson& doc) : doc_(doc) {}

  std::shared_ptr<const Grammar> run() {
    g_->root_ = compile(doc_, "#");
    check_anyof_cycles();
    check_finite();
    compute_first_sets();
    return g_;
  }

  // Any JSON value: an AnyOf of a free object, an array of any values, a string, a number and
  // true/false/null; made once per grammar.
  int32_t any_value() {
    if (any_ >= 0) return any_;
    any_ = add(Node{});  // AnyOf: filled below, since its members refer back to it
    Node obj;
    obj.kind = Kind::kObject;
    obj.free_keys = true;
    obj.value = any_;
    obj.key = free_string();
    const int32_t o = add(std::move(obj));
    Node arr;
    arr.kind = Kind::kArray;
    arr.items = any_;
    const int32_t a = add(std::move(arr));
    Node num;
    num.kind = Kind::kNumber;
    const int32_t n = add(std::move(num));
    const int32_t l = literal({"true", "false", "null"});
    at(any_).alts = {o, a, free_string(), n, l};
    return any_;
  }

 private:
  [[noreturn]] static void fail(const std::string& path, const std::string& what) {
    throw SchemaError(cat("JSON schema at ", path, ": ", what));
  }

  int32_t add(Node n) {
    g_->nodes_.push_back(std::move(n));
    return static_cast<int32_t>(g_->nodes_.size() - 1);
  }
  Node& at(int32_t id) { return g_->nodes_[static_cast<size_t>(id)]; }

  int32_t free_string() {
    if (free_string_ < 0) {
      Node s;
      s.kind = Kind::kString;
      free_string_ = add(std::move(s));
    }
    return free_string_;
  }

  int32_t literal(std::vector<std::string> texts) {
    Node l;
    l.kind = Kind::kLiteral;
    l.literals = std::move(texts);
    return add(std::move(l));
  }

  static std::string dump(const ojson& v) { return v.dump(-1, ' ', false, ojson::error_handler_t::strict); }

  static int64_t count(const ojson& s, const char* key, const std::string& path, int64_t def) {
    auto it = s.find(key);
    if (it == s.end()) return def;
    if (it->is_number_integer() && it->get<int64_t>() >= 0) return it->get<int64_t>();
    if (it->is_number_float() && it->get<double>() >= 0 && std::floor(it->get<double>()) == it->get<double>() &&
        it->get<double>() < 9e18)
      return static_cast<int64_t>(it->get<double>());
    fail(path, cat("'", key, "' must be a non-negative integer"));
  }

  // Compiles one schema, remembering where the node came from for error messages.
  int32_t compile(const ojson& s, const std::string& path) {
    const int32_t id = compile_node(s, path);
    where_.emplace(id, path);
    return id;
  }

  int32_t compile_node(const ojson& s, const std::string& path) {
    if (++depth_ > 200) fail(path, "the schema is nested too deeply");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    if (s.is_boolean()) {
      if (s.get<bool>()) return any_value();
      fail(path, "the schema 'false' matches nothing");
    }
    if (!s.is_object()) fail(path, "a schema must be an object or a boolean");
    for (const auto& [k, v] : s.items()) {
      if (kRefused.count(k)) fail(path, cat("the keyword '", k, "' is not supported for structured output"));
      if (k == "uniqueItems" && v.is_boolean() && v.get<bool>())
        fail(path, "the keyword 'uniqueItems' is not supported for structured output");
    }
    // Keywords other than annotations next to $ref / anyOf / allOf would need an intersection of
    // schemas, which this compiler does not build.
    auto only = [&](const char* word, std::initializer_list<const char*> allowed) {
      for (const auto& [k, v] : s.items()) {
        if (k == word || kIgnored.count(k) || k == "uniqueItems") continue;
        bool ok = false;
        for (const char* a : allowed) ok = ok || k == a;
        if (!ok && (kObjectWords.count(k) || kArrayWords.count(k) || kStringWords.count(k) || kNumberWords.count(k) ||
                    k == "type" || k == "enum" || k == "const" || k == "anyOf" || k == "oneOf" || k == "allOf" ||
                    k == "$ref"))
          fail(path, cat("'", word, "' combined with '", k, "' is not supported; move '", k, "' into the alternatives"));
      }
    };

    if (auto it = s.find("$ref"); it != s.end()) {
      only("$ref", {});
      if (!it->is_string()) fail(path, "'$ref' must be a string");
      return ref(it->get<std::string>(), path);
    }
    if (auto it = s.find("const"); it != s.end()) return literal({dump(*it)});
    if (auto it = s.find("enum"); it != s.end()) {
      if (!it->is_array() || it->empty()) fail(path, "'enum' must be a non-empty array");
      std::vector<std::string> texts;
      for (const auto& v : *it) {
        if (type_allows(s, v)) texts.push_back(dump(v));
      }
      if (texts.empty()) fail(path, "no value of 'enum' has the schema's 'type'");
      return literal(std::move(texts));
    }
    for (const char* word : {"anyOf", "oneOf"}) {
      if (auto it = s.find(word); it != s.end()) {
        only(word, {});
        if (!it->is_array() || it->empty()) fail(path, cat("'", word, "' must be a non-empty array of schemas"));
        Node alt;
        const int32_t id = add(std::move(alt));
        std::vector<int32_t> alts;
        for (size_t i = 0; i < it->size(); ++i) alts.push_back(compile((*it)[i], cat(path, "/", word, "/", i)));
        at(id).alts = std::move(alts);
        return id;
      }
    }
    if (auto it = s.find("allOf"); it != s.end()) {
      only("allOf", {});
      if (!it->is_array() || it->size() != 1)
        fail(path, "'allOf' is supported only with exactly one schema (an intersection is not built)");
      return compile((*it)[0], path + "/allOf/0");
    }

    std::vector<std::string> types;
    if (auto it = s.find("type"); it != s.end()) {
      if (it->is_string()) types.push_back(it->get<std::string>());
      else if (it->is_array() && !it->empty())
        for (const auto& t : *it) {
          if (!t.is_string()) fail(path, "'type' must be a string or an array of strings");
          types.push_back(t.get<std::string>());
        }
      else fail(path, "'type' must be a string or an array of strings");
    } else {
      // No type: the keywords say which kind of value is meant. Producing only that kind is a
      // subset of what the schema accepts, so the output stays valid.
      auto has_any = [&](const std::set<std::string>& words) {
        for (const auto& w : words)
          if (s.contains(w)) return true;
        return false;
      };
      if (has_any(kObjectWords)) types = {"object"};
      else if (has_any(kArrayWords)) types = {"array"};
      else if (has_any(kStringWords)) types = {"string"};
      else if (has_any(kNumberWords)) types = {"number"};
      else return any_value();
    }
    if (types.size() == 1) return typed(s, types[0], path);
    Node alt;
    const int32_t id = add(std::move(alt));
    std::vector<int32_t> alts;
    for (const auto& t : types) alts.push_back(typed(s, t, path));
    at(id).alts = std::move(alts);
    return id;
  }

  // Whether an enum value has one of the schema's types (values of other types are dropped).
  static bool type_allows(const ojson& s, const ojson& v) {
    auto it = s.find("type");
    if (it == s.end()) return true;
    auto one = [&](const std::string& t) {
      if (t == "string") return v.is_string();
      if (t == "number") return v.is_number();
      if (t == "integer") return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
      if (t == "boolean") return v.is_boolean();
      if (t == "null") return v.is_null();
      if (t == "object") return v.is_object();
      if (t == "array") return v.is_array();
      return false;
    };
    if (it->is_string()) return one(it->get<std::string>());
    if (it->is_array())
      for (const auto& t : *it)
        if (t.is_string() && one(t.get<std::string>())) return true;
    return false;
  }

  int32_t typed(const ojson& s, const std::string& t, const std::string& path) {
    if (t == "object") return object(s, path);
    if (t == "array") return array(s, path);
    if (t == "string") {
      Node n;
      n.kind = Kind::kString;
      n.min_len = count(s, "minLength", path, 0);
      n.max_len = count(s, "maxLength", path, kUnbounded);
      if (n.min_len > n.max_len) fail(path, "'minLength' is greater than 'maxLength'");
      return add(std::move(n));
    }
    if (t == "number" || t == "integer") return number(s, path, t == "integer");
    if (t == "boolean") return literal({"true", "false"});
    if (t == "null") return literal({"null"});
    fail(path, cat("unknown type '", t, "'"));
  }

  int32_t number(const ojson& s, const std::string& path, bool integer) {
    Node n;
    n.kind = Kind::kNumber;
    n.integer = integer;
    for (const auto& w : kNumberWords) {
      auto it = s.find(w);
      if (it == s.end()) continue;
      if (!integer)
        fail(path, cat("the keyword '", w, "' is supported only for integers (use \"type\": \"integer\")"));
      if (!it->is_number()) fail(path, cat("'", w, "' must be a number"));
      const double x = it->get<double>();
      if (std::fabs(x) > 1e18) fail(path, cat("'", w, "' is too large"));
      // Integer bounds as inclusive limits.
      if (w == "minimum") n.min_int = std::max(n.min_int, static_cast<int64_t>(std::ceil(x)));
      if (w == "exclusiveMinimum") n.min_int = std::max(n.min_int, static_cast<int64_t>(std::floor(x)) + 1);
      if (w == "maximum") n.max_int = std::min(n.max_int, static_cast<int64_t>(std::floor(x)));
      if (w == "exclusiveMaximum") n.max_int = std::min(n.max_int, static_cast<int64_t>(std::ceil(x)) - 1);
    }
    if (n.min_int > n.max_int) fail(path, "the integer range is empty");
    return add(std::move(n));
  }

  int32_t object(const ojson& s, const std::string& path) {
    Node n;
    n.kind = Kind::kObject;
    const ojson* props = nullptr;
    if (auto it = s.find("properties"); it != s.end()) {
      if (!it->is_object()) fail(path, "'properties' must be an object");
      props = &*it;
    }
    std::vector<std::string> required;
    if (auto it = s.find("required"); it != s.end()) {
      if (!it->is_array()) fail(path, "'required' must be an array of strings");
      for (const auto& r : *it) {
        if (!r.is_string()) fail(path, "'required' must be an array of strings");
        required.push_back(r.get<std::string>());
      }
    }
    const ojson* extra = nullptr;
    if (auto it = s.find("additionalProperties"); it != s.end()) extra = &*it;

    if (!props && required.empty()) {
      if (extra && extra->is_boolean() && !extra->get<bool>()) {
        // Closed and empty: only {}.
        n.next_required = {0};
        return add(std::move(n));
      }
      n.free_keys = true;
      n.key = free_string();
      const int32_t id = add(std::move(n));
      const int32_t v = (!extra || extra->is_boolean()) ? any_value() : compile(*extra, path + "/additionalProperties");
      at(id).value = v;
      return id;
    }
    const int32_t id = add(std::move(n));
    std::vector<Property> out;
    std::set<std::string> seen;
    if (props) {
      for (const auto& [k, v] : props->items()) {
        Property p;
        p.key = dump(ojson(k));
        p.value = compile(v, cat(path, "/properties/", k));
        p.required = std::find(required.begin(), required.end(), k) != required.end();
        seen.insert(k);
        out.push_back(std::move(p));
      }
    }
    // Required names without a listed schema take any value, after the listed properties.
    for (const auto& r : required) {
      if (seen.count(r)) continue;
      if (extra && extra->is_boolean() && !extra->get<bool>())
        fail(path, cat("'required' names '", r, "', which 'properties' does not list while 'additionalProperties' is false"));
      seen.insert(r);
      Property p;
      p.key = dump(ojson(r));
      p.value = (extra && extra->is_object()) ? compile(*extra, path + "/additionalProperties") : any_value();
      p.required = true;
      out.push_back(std::move(p));
    }
    Node& o = at(id);
    o.props = std::move(out);
    o.next_required.assign(o.props.size() + 1, static_cast<int32_t>(o.props.size()));
    for (size_t i = o.props.size(); i-- > 0;)
      o.next_required[i] = o.props[i].required ? static_cast<int32_t>(i) : o.next_required[i + 1];
    return id;
  }

  int32_t array(const ojson& s, const std::string& path) {
    Node n;
    n.kind = Kind::kArray;
    n.min_items = count(s, "minItems", path, 0);
    n.max_items = count(s, "maxItems", path, kUnbounded);
    const int32_t id = add(std::move(n));
    std::vector<int32_t> prefix;
    int32_t items = -2;  // -2: not given
    const ojson* pre = nullptr;
    if (auto it = s.find("prefixItems"); it != s.end()) {
      if (!it->is_array()) fail(path, "'prefixItems' must be an array of schemas");
      pre = &*it;
    }
    if (auto it = s.find("items"); it != s.end()) {
      if (it->is_array()) {  // draft 4-7 tuple form
        if (pre) fail(path, "'items' as an array together with 'prefixItems'");
        pre = &*it;
      } else if (it->is_boolean() && !it->get<bool>()) {
        items = -1;
      } else {
        items = compile(*it, path + "/items");
      }
    }
    if (pre)
      for (size_t i = 0; i < pre->size(); ++i) prefix.push_back(compile((*pre)[i], cat(path, "/prefixItems/", i)));
    if (items == -2) items = any_value();
    Node& a = at(id);
    a.prefix = std::move(prefix);
    a.items = items;
    if (items < 0) a.max_items = std::min<int64_t>(a.max_items, static_cast<int64_t>(a.prefix.size()));
    if (a.min_items > a.max_items) fail(path, "'minItems' is greater than the number of items allowed");
    return id;
  }

  int32_t ref(const std::string& r, const std::string& path) {
    if (r.empty() || r[0] != '#') fail(path, cat("'$ref' '", r, "' is not a local reference ('#/...')"));
    if (auto it = refs_.find(r); it != refs_.end()) return it->second;
    const ojson* target = nullptr;
    try {
      target = &doc_.at(ojson::json_pointer(r.substr(1)));
    } catch (const std::exception&) {
      fail(path, cat("'$ref' '", r, "' does not resolve in this schema"));
    }
    // A one-member AnyOf stands in for the target so that recursive references can point at it
    // before it is compiled.
    const int32_t id = add(Node{});
    refs_[r] = id;
    const int32_t target_id = compile(*target, r);
    at(id).alts = {target_id};
    return id;
  }

  // An AnyOf reaching itself through AnyOf members only ({"$ref": "#"} at the root) would
  // expand forever without reading a byte.
  void check_anyof_cycles() {
    const size_t n = g_->nodes_.size();
    std::vector<int> mark(n, 0);  // 0 new, 1 on the path, 2 done
    std::function<void(int32_t)> visit = [&](int32_t id) {
      if (mark[static_cast<size_t>(id)] == 2) return;
      if (mark[static_cast<size_t>(id)] == 1)
        throw SchemaError("JSON schema: a '$ref' or 'anyOf' refers to itself without any value in between");
      mark[static_cast<size_t>(id)] = 1;
      if (at(id).kind == Kind::kAnyOf)
        for (int32_t a : at(id).alts) visit(a);
      mark[static_cast<size_t>(id)] = 2;
    };
    for (size_t i = 0; i < n; ++i) visit(static_cast<int32_t>(i));
  }

  // Every node must admit some finite value: one that does not (an object that requires a
  // property whose schema is the object again, with no alternative that ends) would leave the
  // model writing until max_tokens with no valid reply possible. Least fixpoint over the graph:
  // a node is finite once the parts it cannot do without are.
  void check_finite() {
    const size_t n = g_->nodes_.size();
    std::vector<char> fin(n, 0);
    auto ok = [&](int32_t id) { return id >= 0 && fin[static_cast<size_t>(id)]; };
    // Passes from the last node down: a node mostly depends on nodes made after it.
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i = n; i-- > 0;) {
        if (fin[i]) continue;
        const Node& nd = g_->nodes_[i];
        bool f = true;
        switch (nd.kind) {
          case Kind::kObject:
            for (const auto& p : nd.props) f = f && (!p.required || ok(p.value));
            break;
          case Kind::kArray:
            for (size_t k = 0; k < nd.prefix.size() && static_cast<int64_t>(k) < nd.min_items; ++k)
              f = f && ok(nd.prefix[k]);
            if (nd.min_items > static_cast<int64_t>(nd.prefix.size())) f = f && ok(nd.items);
            break;
          case Kind::kAnyOf:
            f = false;
            for (int32_t a : nd.alts) f = f || ok(a);
            break;
          default: break;  // strings, numbers and literals always have a value
        }
        if (f) fin[i] = 1, changed = true;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (fin[i]) continue;
      auto w = where_.find(static_cast<int32_t>(i));
      throw SchemaError(cat("JSON schema at ", w != where_.end() ? w->second : std::string("#"),
                            ": no finite JSON value satisfies it (it requires itself, through '$ref' or nesting, ",
                            "with no alternative that ends); make the recursive property optional or add an ",
                            "alternative without it"));
    }
  }

  void compute_first_sets() {
    auto set = [](Node& n, uint8_t c) { n.first[c >> 6] |= uint64_t{1} << (c & 63); };
    std::vector<bool> done(g_->nodes_.size(), false);
    std::function<void(int32_t)> visit = [&](int32_t id) {
      if (done[static_cast<size_t>(id)]) return;
      Node& n = at(id);
      switch (n.kind) {
        case Kind::kObject: set(n, '{'); break;
        case Kind::kArray: set(n, '['); break;
        case Kind::kString: set(n, '"'); break;
        case Kind::kNumber:
          if (!n.integer || n.min_int <= 0) set(n, '-');
          for (uint8_t c = '0'; c <= '9'; ++c) set(n, c);
          break;
        case Kind::kLiteral:
          for (const auto& l : n.literals) set(n, static_cast<uint8_t>(l[0]));
          break;
        case Kind::kAnyOf:
          for (int32_t a : n.alts) {
            visit(a);
            for (int w = 0; w < 4; ++w) at(id).first[w] |= at(a).first[w];
          }
          break;
      }
      done[static_cast<size_t>(id)] = true;
    };
    for (size_t i = 0; i < g_->nodes_.size(); ++i) visit(static_cast<int32_t>(i));
  }

  const ojson& doc_;
  std::shared_ptr<Grammar> g_ = std::make_shared<Grammar>();
  std::map<std::string, int32_t> refs_;
  std::map<int32_t, std::string> where_;  // node -> schema path (first seen)
  int32_t any_ = -1, free_string_ = -1;
  int depth_ = 0;
};

std::shared_ptr<const Grammar> Grammar::from_json_schema(const ojson& schema) { return Compiler(schema).run(); }

std::shared_ptr<const Grammar> Grammar::from_json_schema_text(std::string_view text) {
  ojson j;
  try {
    j = ojson::parse(text);
  } catch (const std::exception& e) {
    throw SchemaError(cat("the JSON schema is not valid JSON: ", e.what()));
  }
  return from_json_schema(j);
}

std::shared_ptr<const Grammar> Grammar::any_object() {
  static const ojson schema = {{"type", "object"}};
  return from_json_schema(schema);
}

std::shared_ptr<const Grammar> Grammar::any_value() {
  static const ojson schema = ojson::object();
  return from_json_schema(schema);
}

}  // namespace helix::grammar

// OpenAPI plugins (see openapi.h).
#include "plugins/openapi.h"

#include <mutex>

#include "core/error.h"
#include "core/files.h"
#include "plugins/http.h"

namespace helix::plugins {
namespace {

const char* kMethods[] = {"get", "put", "post", "delete", "patch", "head"};

struct Param {
  std::string name, in;  // in: path, query, header, body
  bool required = false;
};
struct Operation {
  ToolSpec spec;
  std::string method, path;
  std::vector<Param> params;
};

// Resolves local "$ref"s ("#/components/schemas/X") everywhere inside v; cycles and deep nesting
// end in an empty schema.
ojson resolve(const ojson& doc, const ojson& v, int depth = 0) {
  if (depth > 32) return ojson::object();
  if (v.is_object()) {
    if (auto r = v.find("$ref"); r != v.end() && r->is_string()) {
      const std::string ref = r->get<std::string>();
      HELIX_CHECK(ref.rfind("#/", 0) == 0, "the OpenAPI document refers to '", ref, "': only local references (#/...) are supported");
      try {
        return resolve(doc, doc.at(ojson::json_pointer(ref.substr(1))), depth + 1);
      } catch (const ojson::exception&) {
        throw Error(cat("the OpenAPI document refers to '", ref, "', which it does not define"));
      }
    }
    ojson out = ojson::object();
    for (const auto& [k, x] : v.items()) out[k] = resolve(doc, x, depth + 1);
    return out;
  }
  if (v.is_array()) {
    ojson out = ojson::array();
    for (const auto& x : v) out.push_back(resolve(doc, x, depth + 1));
    return out;
  }
  return v;
}

std::string tool_name(const ojson& op, const std::string& method, const std::string& path) {
  std::string raw = op.contains("operationId") && op["operationId"].is_string() ? op["operationId"].get<std::string>()
                                                                               : method + "_" + path;
  std::string out;
  for (char c : raw) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    if (ok) out += c;
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.size() > 64) out.resize(64);
  return out.empty() ? method : out;
}

std::vector<Operation> operations(const ojson& doc) {
  HELIX_CHECK(doc.is_object() && doc.contains("paths") && doc["paths"].is_object(),
              "not an OpenAPI document: it has no 'paths' object");
  HELIX_CHECK(doc.contains("openapi") || doc.contains("swagger"), "not an OpenAPI document: no 'openapi' version field");
  HELIX_CHECK(!doc.contains("swagger"), "this is a Swagger 2.0 document; Helix reads OpenAPI 3 (convert it first)");
  std::vector<Operation> out;
  for (const auto& [path, item_raw] : doc["paths"].items()) {
    const ojson item = resolve(doc, item_raw);
    for (const char* method : kMethods) {
      if (!item.contains(method)) continue;
      const ojson& op = item[method];
      Operation o;
      o.method = method;
      o.path = path;
      o.spec.name = tool_name(op, method, path);
      std::string d = op.value("summary", "");
      const std::string more = op.value("description", "");
      if (!more.empty() && more != d) d += (d.empty() ? "" : ". ") + more;
      o.spec.description = d;
      o.spec.write = o.method != "get" && o.method != "head";
      ojson props = ojson::object(), required = ojson::array();
      ojson params = ojson::array();
      for (const ojson* src : {&item, &op})
        if (src->contains("parameters") && (*src)["parameters"].is_array())
          for (const auto& p : (*src)["parameters"]) params.push_back(p);
      for (const auto& p : params) {
        const std::string name = p.value("name", ""), in = p.value("in", "");
        if (name.empty() || (in != "path" && in != "query" && in != "header")) continue;
        ojson s = p.contains("schema") ? p["schema"] : ojson{{"type", "string"}};
        if (p.contains("description") && s.is_object() && !s.contains("description")) s["description"] = p["description"];
        props[name] = s;
        const bool req = in == "path" || p.value("required", false);
        if (req) required.push_back(name);
        o.params.push_back({name, in, req});
      }
      if (auto rb = op.find("requestBody"); rb != op.end() && rb->is_object()) {
        const ojson* schema = nullptr;
        if (rb->contains("content") && (*rb)["content"].contains("application/json"))
          schema = &(*rb)["content"]["application/json"];
        if (schema && schema->contains("schema")) {
          props["body"] = (*schema)["schema"];
          const bool req = rb->value("required", false);
          if (req) required.push_back("body");
          o.params.push_back({"body", "body", req});
        }
      }
      o.spec.parameters = {{"type", "object"}, {"properties", props}};
      if (!required.empty()) o.spec.parameters["required"] = required;
      out.push_back(std::move(o));
    }
  }
  return out;
}

std::string scalar_text(const ojson& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

class OpenApiClient : public Executor {
 public:
  explicit OpenApiClient(const Manifest& m) : m_(m), secret_(read_secret(m.auth)) {}

  std::vector<ToolSpec> tools() override {
    std::lock_guard<std::mutex> lk(mu_);
    load();
    std::vector<ToolSpec> out;
    for (const auto& o : ops_) out.push_back(o.spec);
    return out;
  }

  ToolResult call(const std::string& tool, const ojson& args) override {
    const Operation* op = nullptr;
    {
      std::lock_guard<std::mutex> lk(mu_);
      load();
      for (const auto& o : ops_)
        if (o.spec.name == tool) op = &o;
    }
    HELIX_CHECK(op, "the plugin '", m_.name, "' has no operation '", tool, "'");
    HELIX_CHECK(args.is_object(), "the arguments must be a JSON object");
    HttpRequest r;
    r.method = op->method;
    for (auto& c : r.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    r.timeout_s = m_.timeout_s;
    r.max_bytes = m_.max_response_bytes;
    std::string path = op->path, query;
    for (const auto& p : op->params) {
      auto it = args.find(p.name);
      if (it == args.end() || it->is_null()) {
        HELIX_CHECK(!p.required, "the argument '", p.name, "' is required");
        continue;
      }
      if (p.in == "path") {
        const std::string key = "{" + p.name + "}";
        for (size_t at = path.find(key); at != std::string::npos; at = path.find(key)) path.replace(at, key.size(), url_encode(scalar_text(*it)));
      } else if (p.in == "query") {
        auto add = [&](const ojson& v) { query += (query.empty() ? "" : "&") + url_encode(p.name) + "=" + url_encode(scalar_text(v)); };
        if (it->is_array()) for (const auto& v : *it) add(v);
        else add(*it);
      } else if (p.in == "header") {
        r.headers.emplace(p.name, scalar_text(*it));
      } else {
        r.body = it->dump();
        r.content_type = "application/json";
      }
    }
    if (m_.auth.type == "bearer") r.headers.emplace("Authorization", "Bearer " + secret_);
    if (m_.auth.type == "header") r.headers.emplace(m_.auth.name, secret_);
    if (m_.auth.type == "query") query += (query.empty() ? "" : "&") + url_encode(m_.auth.name) + "=" + url_encode(secret_);
    const std::string base_path = base_.target == "/" ? "" : (base_.target.back() == '/' ? base_.target.substr(0, base_.target.size() - 1) : base_.target);
    r.url = base_;
    r.url.target = base_path + path + (query.empty() ? "" : "?" + query);
    r.headers.emplace("Accept", "application/json");
    HttpResponse res;
    try {
      res = http_send(r);
    } catch (const std::exception& e) {
      throw Error(redact(e.what(), secret_));
    }
    ToolResult out;
    out.ok = res.status < 400;
    out.text = redact(out.ok ? res.body : cat("HTTP ", res.status, ": ", res.body), secret_);
    return out;
  }

 private:
  void load() {
    if (loaded_) return;
    std::string text;
    Url doc_url;
    const bool remote = m_.openapi.rfind("http://", 0) == 0 || m_.openapi.rfind("https://", 0) == 0;
    if (remote) {
      HttpRequest r;
      r.url = doc_url = parse_url(m_.openapi);
      r.timeout_s = m_.timeout_s;
      r.max_bytes = 8 << 20;
      r.headers.emplace("Accept", "application/json");
      if (m_.auth.type == "bearer") r.headers.emplace("Authorization", "Bearer " + secret_);
      if (m_.auth.type == "header") r.headers.emplace(m_.auth.name, secret_);
      HttpResponse res;
      try {
        res = http_send(r);
      } catch (const std::exception& e) {
        throw Error(cat("cannot fetch the OpenAPI document of plugin '", m_.name, "': ", redact(e.what(), secret_)));
      }
      HELIX_CHECK(res.status == 200, "cannot fetch the OpenAPI document ", m_.openapi, ": HTTP ", res.status);
      text = res.body;
    } else {
      text = read_file(m_.openapi, "OpenAPI document");
    }
    ojson doc;
    try {
      doc = ojson::parse(text);
    } catch (const std::exception&) {
      throw Error(cat("the OpenAPI document ", m_.openapi, " is not JSON (YAML documents: convert them to JSON first)"));
    }
    ops_ = operations(doc);
    std::string server;
    if (doc.contains("servers") && doc["servers"].is_array() && !doc["servers"].empty())
      server = doc["servers"][0].value("url", "");
    if (server.empty() || server[0] == '/') {
      HELIX_CHECK(remote, "the OpenAPI document ", m_.openapi, " names no absolute server URL (servers[0].url); ",
                  "add one to the document, or add the plugin by the document's URL");
      server = doc_url.origin() + server;
    }
    base_ = parse_url(server);
    std::vector<std::string> hosts = m_.permissions.hosts;
    // A document fetched from a URL may only send calls to its own host (a document that points
    // elsewhere, such as at an internal address, needs that host in permissions.hosts); a local
    // document is the user's own, so its server's host is allowed.
    hosts.push_back(remote ? doc_url.host : base_.host);
    check_host(base_, hosts);
    loaded_ = true;
  }

  Manifest m_;
  std::string secret_;
  bool loaded_ = false;
  std::vector<Operation> ops_;
  Url base_;
  std::mutex mu_;
};

}  // namespace

std::vector<ToolSpec> openapi_tools(const ojson& doc) {
  std::vector<ToolSpec> out;
  for (const auto& o : operations(doc)) out.push_back(o.spec);
  return out;
}

std::unique_ptr<Executor> make_openapi_client(const Manifest& m) { return std::make_unique<OpenApiClient>(m); }

}  // namespace helix::plugins

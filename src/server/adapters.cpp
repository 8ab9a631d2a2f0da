// Served adapters that switch without a restart (see adapters.h).
#include "server/adapters.h"

#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "core/files.h"
#include "knowledge/store.h"
#include "server/engine.h"

namespace helix::server {

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

ServedAdapter::~ServedAdapter() {
  if (!retired || set <= 0) return;
  std::lock_guard<std::mutex> lk(retired->mu);
  retired->ids.push_back(set);
}

ServedAdapters::ServedAdapters(Engine& eng, std::shared_ptr<model::Model> model) : eng_(eng), model_(std::move(model)) {}

void ServedAdapters::adopt(const std::string& name, int set, const std::vector<std::string>& paths,
                           const std::string& chat_template) {
  auto a = std::make_shared<ServedAdapter>();
  a->name = name;
  for (const auto& p : paths) a->path += (a->path.empty() ? "" : ",") + p;
  if (paths.size() == 1) a->sha256 = knowledge::sha256_hex(read_file(paths[0], "LoRA adapter"));
  a->chat_template = chat_template;
  a->source = "--lora";
  a->set = set;
  a->loaded_at = unix_now();
  a->retired = retired_;
  std::lock_guard<std::mutex> lk(mu_);
  by_name_[name] = std::move(a);
}

std::shared_ptr<const ServedAdapter> ServedAdapters::load(const std::string& name, const std::string& path,
                                                          const std::string& source) {
  HELIX_CHECK(!name.empty() && name.find(':') == std::string::npos && name.size() <= 100,
              "an adapter name must be 1-100 characters without ':' (requests name it as MODEL:NAME), got '", name, "'");
  std::lock_guard<std::mutex> serial(load_mu_);
  // Reading and checking the file happens here, on the caller's thread; only adding the set to
  // the model (and freeing replaced ones) takes the engine's turn between two steps.
  const std::string bytes = read_file(path, "LoRA adapter");
  model::LoraUse u;
  u.adapter = std::make_shared<const model::LoraAdapter>(model::load_lora(path));
  u.path = path;
  model::check_lora(*u.adapter, model_->file(), path);
  auto a = std::make_shared<ServedAdapter>();
  a->name = name;
  a->path = path;
  a->sha256 = knowledge::sha256_hex(bytes);
  a->chat_template = u.adapter->chat_template;
  a->source = source;
  a->loaded_at = unix_now();
  a->retired = retired_;
  std::vector<int> drop;
  {
    std::lock_guard<std::mutex> lk(retired_->mu);
    drop.swap(retired_->ids);
  }
  eng_.run_between_steps([&] {
    for (int id : drop) model_->remove_lora_set(id);
    a->set = model_->add_lora_set({u});
  });
  std::shared_ptr<const ServedAdapter> old;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = by_name_.find(name);
    if (it != by_name_.end()) {
      a->version = it->second->version + 1;
      old = std::move(it->second);
    }
    by_name_[name] = a;
  }
  std::fprintf(stderr, "helix serve: adapter '%s' is now %s (sha256 %.12s, %s)%s\n", name.c_str(), path.c_str(),
               a->sha256.c_str(), source.c_str(), old ? cat("; it was ", old->path).c_str() : "");
  return a;  // `old` is released here or by the last request that holds it
}

std::shared_ptr<const ServedAdapter> ServedAdapters::find(const std::string& name) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const ServedAdapter>> ServedAdapters::all() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::shared_ptr<const ServedAdapter>> out;
  for (const auto& [n, a] : by_name_) out.push_back(a);
  return out;
}

bool ServedAdapters::empty() const {
  std::lock_guard<std::mutex> lk(mu_);
  return by_name_.empty();
}

ojson adapter_json(const ServedAdapter& a, const std::string& model_id) {
  return {{"name", a.name},     {"model", model_id + ":" + a.name}, {"path", a.path},
          {"sha256", a.sha256}, {"source", a.source},                {"version", a.version},
          {"loaded_at", a.loaded_at}, {"chat_template", !a.chat_template.empty()}};
}

std::pair<std::string, std::string> parse_adapter_request(const std::string& body) {
  const ojson b = parse_body(body);
  for (const char* k : {"name", "path"})
    if (!b.contains(k) || !b[k].is_string() || b[k].get<std::string>().empty())
      throw ApiError{400, cat("'", k, "' must be a non-empty string: POST /v1/adapters takes {\"name\": NAME, \"path\": FILE}"),
                     "invalid_request_error", k, "invalid_value"};
  for (const auto& [k, v] : b.items())
    if (k != "name" && k != "path")
      throw ApiError{400, cat("unknown field '", k, "' (POST /v1/adapters takes name and path)"), "invalid_request_error", k,
                     "invalid_value"};
  return {b["name"].get<std::string>(), b["path"].get<std::string>()};
}

}  // namespace helix::server

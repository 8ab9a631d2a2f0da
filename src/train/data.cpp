// Training data: validating records, rendering them with the chat template, marking the
// assistant's tokens, reading JSONL with file:line errors (see data.h).
#include "train/data.h"

#include <fstream>
#include <sstream>

#include "chat/template.h"
#include "io/gguf.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace helix::train {

using ojson = nlohmann::ordered_json;

namespace {

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

bool content_empty(const ojson& c) {
  if (c.is_null()) return true;
  if (c.is_string()) return blank(c.get<std::string>());
  if (c.is_array()) {
    for (const auto& p : c)
      if (p.is_object() && p.value("type", "") == "text" && p.contains("text") && p["text"].is_string() &&
          !blank(p["text"].get<std::string>()))
        return false;
  }
  return true;
}

// Checks one tool call and turns a JSON-string `arguments` into the object templates expect.
ojson normalize_tool_call(const ojson& call, size_t msg, size_t i) {
  const std::string where = cat("message ", msg + 1, " tool_calls[", i, "]");
  if (!call.is_object() || !call.contains("function") || !call["function"].is_object())
    throw BadData(cat(where, " needs a 'function' object with 'name' and 'arguments'"));
  ojson out = call;
  ojson& fn = out["function"];
  if (!fn.contains("name") || !fn["name"].is_string() || fn["name"].get<std::string>().empty())
    throw BadData(cat(where, " has no function 'name'"));
  if (!fn.contains("arguments")) fn["arguments"] = ojson::object();
  if (fn["arguments"].is_string()) {
    try {
      fn["arguments"] = ojson::parse(fn["arguments"].get<std::string>());
    } catch (const std::exception&) {
      throw BadData(cat(where, ": 'arguments' is a string that is not valid JSON"));
    }
  }
  if (!fn["arguments"].is_object()) throw BadData(cat(where, ": 'arguments' must be a JSON object"));
  if (!out.contains("type")) out["type"] = "function";
  return out;
}

ojson check_message(const ojson& m, size_t i) {
  if (!m.is_object()) throw BadData(cat("message ", i + 1, " is not a JSON object"));
  if (!m.contains("role") || !m["role"].is_string()) throw BadData(cat("message ", i + 1, " has no string 'role'"));
  const std::string role = m["role"].get<std::string>();
  if (role != "system" && role != "user" && role != "assistant" && role != "tool")
    throw BadData(cat("message ", i + 1, ": unknown role '", role, "' (expected system, user, assistant or tool)"));
  ojson out = m;
  const bool has_calls = role == "assistant" && m.contains("tool_calls") && !m["tool_calls"].is_null();
  if (!m.contains("content") && !has_calls) throw BadData(cat("message ", i + 1, " (", role, ") has no 'content'"));
  if (!out.contains("content")) out["content"] = nullptr;
  const ojson& c = out["content"];
  if (!(c.is_string() || c.is_array() || c.is_null()))
    throw BadData(cat("message ", i + 1, ": 'content' must be a string, an array of parts or null"));
  if (has_calls) {
    if (!m["tool_calls"].is_array() || m["tool_calls"].empty())
      throw BadData(cat("message ", i + 1, ": 'tool_calls' must be a non-empty array"));
    for (size_t k = 0; k < m["tool_calls"].size(); ++k)
      out["tool_calls"][k] = normalize_tool_call(m["tool_calls"][k], i, k);
  } else if (role == "assistant" && content_empty(c)) {
    throw BadData(cat("message ", i + 1, ": empty assistant turn (no content and no tool_calls)"));
  } else if (c.is_null()) {
    throw BadData(cat("message ", i + 1, " (", role, "): 'content' is null"));
  }
  return out;
}

}  // namespace

std::string chat_template_for_training(const gguf::GGUFFile& model, const std::string& override_path) {
  if (override_path.empty()) return runtime::chat_template_for(model);
  std::ifstream in(override_path, std::ios::binary);
  HELIX_CHECK(in, "cannot read the chat template file ", override_path, " (--chat-template wants a Jinja file)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SampleRenderer::SampleRenderer(const tok::Tokenizer& tok, std::string chat_template)
    : tok_(tok), tmpl_(std::move(chat_template)) {
  chat::ChatTemplate::parse(tmpl_);  // syntax errors surface once, here, not per sample
  bos_ = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  eos_ = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
}

ojson SampleRenderer::messages_of(const ojson& record) {
  if (!record.is_object()) throw BadData("a record must be a JSON object");
  ojson msgs = ojson::array();
  if (record.contains("messages")) {
    const ojson& m = record["messages"];
    if (!m.is_array() || m.empty()) throw BadData("'messages' must be a non-empty array");
    for (size_t i = 0; i < m.size(); ++i) msgs.push_back(check_message(m[i], i));
  } else if (record.contains("prompt") || record.contains("completion")) {
    for (const char* k : {"prompt", "completion"})
      if (!record.contains(k) || !record[k].is_string()) throw BadData(cat("a prompt/completion record needs a string '", k, "'"));
    if (record.contains("system")) {
      if (!record["system"].is_string()) throw BadData("'system' must be a string");
      msgs.push_back({{"role", "system"}, {"content", record["system"]}});
    }
    msgs.push_back({{"role", "user"}, {"content", record["prompt"]}});
    if (blank(record["completion"].get<std::string>())) throw BadData("empty assistant turn ('completion' is empty)");
    msgs.push_back({{"role", "assistant"}, {"content", record["completion"]}});
  } else {
    throw BadData("a record needs 'messages' (a conversation) or 'prompt' and 'completion'");
  }
  bool any = false;
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i]["role"] != "assistant") continue;
    if (i == 0) throw BadData("the conversation starts with an assistant turn (nothing to answer)");
    any = true;
  }
  if (!any) throw BadData("the conversation has no assistant turn (nothing to learn)");
  if (record.contains("tools") && !record["tools"].is_null() && !record["tools"].is_array())
    throw BadData("'tools' must be an array");
  return msgs;
}

std::string SampleRenderer::render_text(const ojson& msgs, const ojson& tools, bool gen) const {
  try {
    return chat::render_chat(tmpl_, msgs, tools, gen, bos_, eos_);
  } catch (const std::exception& e) {
    throw BadData(cat("the chat template cannot render this conversation: ", e.what()));
  }
}

void SampleRenderer::encode_piece(const std::string& text, bool first, std::vector<int32_t>& out) const {
  auto ids = tok_.encode(text, false, true);
  if (first && tok_.add_bos() && tok_.bos() >= 0 && (ids.empty() || ids[0] != tok_.bos())) out.push_back(tok_.bos());
  out.insert(out.end(), ids.begin(), ids.end());
}

Sample SampleRenderer::render(const ojson& record) const {
  ojson msgs = messages_of(record);
  const ojson tools = record.contains("tools") ? record["tools"] : ojson(nullptr);
  while (msgs.back()["role"] != "assistant") msgs.erase(msgs.size() - 1);  // trailing turns teach nothing
  const std::string full = render_text(msgs, tools, false);
  auto prefix = [&](size_t n) {
    ojson p = ojson::array();
    for (size_t i = 0; i < n; ++i) p.push_back(msgs[i]);
    return p;
  };
  Sample s;
  size_t done = 0;  // characters of `full` already tokenized
  for (size_t k = 0; k < msgs.size(); ++k) {
    if (msgs[k]["role"] != "assistant") continue;
    const std::string before = render_text(prefix(k), tools, true);
    const std::string through = render_text(prefix(k + 1), tools, false);
    if (before.size() < done || through.size() < before.size() || full.compare(0, through.size(), through) != 0 ||
        through.compare(0, before.size(), before) != 0)
      throw BadData(cat("the chat template does not render message ", k + 1,
                        " as a continuation of the turns before it, so the assistant's tokens cannot be marked"));
    size_t end = through.size();
    while (end > before.size() && (full[end - 1] == '\n' || full[end - 1] == ' ')) --end;
    if (end == before.size()) throw BadData(cat("message ", k + 1, ": the assistant turn renders as empty text"));
    encode_piece(full.substr(done, before.size() - done), done == 0, s.tokens);
    s.loss.resize(s.tokens.size(), 0);
    encode_piece(full.substr(before.size(), end - before.size()), false, s.tokens);
    s.loss.resize(s.tokens.size(), 1);
    done = end;
  }
  if (record.contains("meta")) s.meta = record["meta"];
  return s;
}

std::vector<int32_t> SampleRenderer::prompt_tokens(const ojson& record, std::string* reference) const {
  ojson msgs = messages_of(record);
  while (msgs.back()["role"] != "assistant") msgs.erase(msgs.size() - 1);
  const ojson last = msgs.back();
  msgs.erase(msgs.size() - 1);
  const ojson tools = record.contains("tools") ? record["tools"] : ojson(nullptr);
  if (reference) {
    const ojson& c = last["content"];
    *reference = c.is_string() ? c.get<std::string>() : "";
    if (last.contains("tool_calls")) {  // the reference of a tool-call turn is its calls as JSON
      ojson calls = ojson::array();
      for (const auto& tc : last["tool_calls"]) calls.push_back(tc["function"]);
      *reference = calls.dump();
    }
  }
  std::vector<int32_t> out;
  encode_piece(render_text(msgs, tools, true), true, out);
  return out;
}

OnBadData parse_on_bad_data(const std::string& s) {
  if (s == "stop") return OnBadData::kStop;
  if (s == "skip") return OnBadData::kSkip;
  throw Error(cat("on_bad_data must be 'skip' or 'stop' (got '", s, "')"));
}

std::string BadRecord::message() const { return cat(file, ":", line, ": ", reason); }

LoadResult load_jsonl(const std::string& path, const std::string& type, const SampleRenderer& r,
                      const LoadOptions& opt) {
  return load_jsonl(path, type, [&](const ojson& rec) { return r.render(rec); }, opt);
}

LoadResult load_jsonl(const std::string& path, const std::string& type, const RecordReader& render,
                      const LoadOptions& opt) {
  std::ifstream in(path, std::ios::binary);
  HELIX_CHECK(in, "cannot open training data ", path);
  LoadResult res;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (blank(line)) continue;
    try {
      ojson rec;
      try {
        rec = ojson::parse(line);
      } catch (const nlohmann::json::parse_error& e) {
        throw BadData(cat("invalid JSON (", e.what(), ")"));
      }
      Sample s = render(rec);
      if (opt.seq_len > 0 && static_cast<int64_t>(s.tokens.size()) > opt.seq_len)
        throw BadData(cat("the sample is ", s.tokens.size(), " tokens, longer than the sequence length ", opt.seq_len,
                          " (raise seq_len or shorten the sample)"));
      s.type = type;
      s.file = path;
      s.line = lineno;
      res.n_tokens += static_cast<int64_t>(s.tokens.size());
      for (uint8_t b : s.loss) res.n_loss_tokens += b;
      res.samples.push_back(std::move(s));
      if (opt.max_samples > 0 && static_cast<int64_t>(res.samples.size()) >= opt.max_samples) break;
    } catch (const BadData& e) {
      BadRecord b{path, lineno, e.what()};
      if (opt.on_bad_data == OnBadData::kStop)
        throw Error(cat(b.message(), " (fix the line, or pass --on-bad-data skip to leave such lines out)"));
      res.bad.push_back(std::move(b));
    }
  }
  return res;
}

}  // namespace helix::train

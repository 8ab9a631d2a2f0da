// Tokenizers from a Hugging Face tokenizer.json: byte-level BPE (GPT-2, RoBERTa, Llama 3, Qwen2,
// ...: a ByteLevel pre-tokenizer, alone or after the Split/Digits steps of a known family) and
// WordPiece (BERT). The file is turned into the same VocabSpec a GGUF file gives (WordPiece
// entries get GGUF's U+2581 word-start convention) so both paths share one implementation.
// Anything this cannot reproduce exactly (other models, normalizers or regexes) is refused with
// a helix::Error instead of tokenizing differently.
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

namespace helix::tok {
namespace {

using nlohmann::json;

std::string type_of(const json& j) {
  return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
}

// The pre-tokenizer name (as GGUF's tokenizer.ggml.pre) for a byte-level BPE pre_tokenizer: the
// family (pretokenize.h) whose regex sequence its steps spell: Split regexes ("isolated"), Digits,
// then ByteLevel (whose use_regex adds GPT-2's split).
std::string byte_level_pre(const json& pt) {
  std::vector<json> steps;
  if (type_of(pt) == "Sequence") {
    for (const json& x : pt.at("pretokenizers")) steps.push_back(x);
  } else {
    steps.push_back(pt);
  }
  HELIX_CHECK(type_of(steps.back()) == "ByteLevel",
              "tokenizer.json: unsupported pre_tokenizer (", pt.dump().substr(0, 200), ")");
  const json& bl = steps.back();
  HELIX_CHECK(!bl.value("add_prefix_space", false),
              "tokenizer.json: ByteLevel with add_prefix_space is not supported");
  std::vector<std::string> regexes;
  for (size_t i = 0; i + 1 < steps.size(); ++i) {
    const json& st = steps[i];
    const std::string t = type_of(st);
    if (t == "Split") {
      HELIX_CHECK(st.value("behavior", "") == "Isolated" && !st.value("invert", false),
                  "tokenizer.json: unsupported Split behaviour");
      const json& pat = st.at("pattern");
      HELIX_CHECK(pat.contains("Regex"), "tokenizer.json: Split needs a Regex pattern");
      regexes.push_back(pat["Regex"].get<std::string>());
    } else if (t == "Digits") {
      regexes.push_back(st.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+");
    } else {
      throw Error(cat("tokenizer.json: unsupported pre-tokenizer step ", t));
    }
  }
  if (bl.value("use_regex", true)) regexes.push_back(pre_tokenizer("gpt-2").regexes.at(0));
  for (const std::string& names : pre_tokenizer_names()) {
    const std::string family = names.substr(0, names.find(' '));
    if (pre_tokenizer(family).regexes == regexes) return family;
  }
  throw Error(cat("tokenizer.json: unsupported pre-tokenizer regexes (no known family splits so): ",
                  regexes.front().substr(0, 120)));
}

// BOS/EOS (or CLS/SEP) that the post-processor adds around a single sequence.
void post_processor(const json& pp, const std::map<std::string, int32_t>& ids, VocabSpec& s) {
  const std::string t = type_of(pp);
  auto id_of = [&](const std::string& tok) -> int64_t {
    auto it = ids.find(tok);
    HELIX_CHECK(it != ids.end(), "tokenizer.json: post_processor token '", tok, "' is not in the vocabulary");
    return it->second;
  };
  s.add_bos = false;
  s.add_eos = false;
  if (t == "TemplateProcessing") {
    const json& single = pp.at("single");
    bool seen_seq = false;
    for (const json& item : single) {
      if (item.contains("Sequence")) {
        seen_seq = true;
      } else if (item.contains("SpecialToken")) {
        const int64_t id = id_of(item["SpecialToken"].at("id").get<std::string>());
        if (!seen_seq) {
          s.bos = id;
          s.add_bos = true;
        } else if (s.model == "bert") {
          s.sep = id;
          s.add_sep = true;
        } else {
          s.eos = id;
          s.add_eos = true;
        }
      }
    }
  } else if (t == "BertProcessing" || t == "RobertaProcessing") {
    s.bos = id_of(pp.at("cls").at(0).get<std::string>());
    s.add_bos = true;
    if (s.model == "bert") {
      s.sep = id_of(pp.at("sep").at(0).get<std::string>());
      s.add_sep = true;
    } else {
      s.eos = id_of(pp.at("sep").at(0).get<std::string>());
      s.add_eos = true;
    }
  } else if (t == "Sequence") {
    for (const json& p : pp.at("processors"))
      if (type_of(p) != "ByteLevel") post_processor(p, ids, s);
  } else if (t == "ByteLevel" || t.empty()) {
  } else {
    throw Error(cat("tokenizer.json: unsupported post_processor ", t));
  }
}

VocabSpec spec_from_json(const json& j) {
  HELIX_CHECK(j.is_object() && j.contains("model"), "tokenizer.json: no \"model\"");
  const json& m = j["model"];
  std::string mt = type_of(m);
  if (mt.empty()) mt = m.contains("merges") ? "BPE" : (m.contains("continuing_subword_prefix") ? "WordPiece" : "");
  VocabSpec s;
  std::map<std::string, int32_t> ids;
  int64_t max_id = -1;
  for (const auto& [tok, id] : m.at("vocab").items()) {
    HELIX_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (1 << 30),
                "tokenizer.json: bad id for '", tok, "'");
    ids[tok] = id.get<int32_t>();
    max_id = std::max<int64_t>(max_id, id.get<int64_t>());
  }
  std::map<int32_t, std::pair<std::string, bool>> added;  // id -> (content, special)
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const json& a : j["added_tokens"]) {
      const auto id = a.at("id").get<int32_t>();
      HELIX_CHECK(id >= 0 && id < (1 << 30), "tokenizer.json: bad added token id ", id);
      added[id] = {a.at("content").get<std::string>(), a.value("special", false)};
      ids[a.at("content").get<std::string>()] = id;
      max_id = std::max<int64_t>(max_id, id);
      if (a.value("lstrip", false)) s.lstrip_ids.push_back(id);
      if (a.value("rstrip", false)) s.rstrip_ids.push_back(id);
    }
  }
  HELIX_CHECK(max_id >= 0, "tokenizer.json: empty vocabulary");
  s.tokens.assign(static_cast<size_t>(max_id + 1), "");
  s.types.assign(static_cast<size_t>(max_id + 1), 1);
  for (int64_t i = 0; i <= max_id; ++i) s.tokens[i] = cat("[UNUSED_", i, "]");  // holes
  for (const auto& [tok, id] : m.at("vocab").items()) s.tokens[id.get<int32_t>()] = tok;

  if (mt == "BPE") {
    HELIX_CHECK(!m.value("byte_fallback", false),
                "tokenizer.json: SentencePiece-style BPE (byte_fallback) is not supported; use the GGUF file");
    s.model = "gpt2";
    HELIX_CHECK(type_of(j.value("normalizer", json())) == "" || type_of(j["normalizer"]) == "NFC",
                "tokenizer.json: unsupported normalizer for byte-level BPE");
    s.pre = byte_level_pre(j.at("pre_tokenizer"));
    s.ignore_merges = m.value("ignore_merges", false);
    for (const json& mg : m.at("merges")) {
      if (mg.is_string()) s.merges.push_back(mg.get<std::string>());
      else s.merges.push_back(mg.at(0).get<std::string>() + " " + mg.at(1).get<std::string>());
    }
  } else if (mt == "WordPiece") {
    s.model = "bert";
    const std::string prefix = m.value("continuing_subword_prefix", "##");
    for (auto& t : s.tokens) {
      if (t.size() >= 2 && t.front() == '[' && t.back() == ']') continue;
      if (!prefix.empty() && t.rfind(prefix, 0) == 0) t = t.substr(prefix.size());
      else t = "\xe2\x96\x81" + t;
    }
    if (m.contains("max_input_chars_per_word") && m["max_input_chars_per_word"].is_number_integer())
      s.max_input_chars_per_word = m["max_input_chars_per_word"].get<int64_t>();
    if (m.contains("unk_token") && ids.count(m["unk_token"].get<std::string>()))
      s.unk = ids[m["unk_token"].get<std::string>()];
    const json& n = j.value("normalizer", json());
    if (type_of(n) == "BertNormalizer") {
      s.lowercase = n.value("lowercase", true);
      s.strip_accents = n.contains("strip_accents") && n["strip_accents"].is_boolean()
                            ? n["strip_accents"].get<bool>()
                            : *s.lowercase;
    } else {
      HELIX_CHECK(type_of(n).empty(), "tokenizer.json: unsupported normalizer ", type_of(n), " for WordPiece");
      s.lowercase = false;
      s.strip_accents = false;
    }
  } else {
    throw Error(cat("tokenizer.json: unsupported model type '", mt, "' (supported: BPE, WordPiece)"));
  }
  for (const auto& [id, a] : added) {
    s.tokens[id] = a.first;
    s.types[id] = a.second ? 3 : 4;
  }
  post_processor(j.value("post_processor", json()), ids, s);
  // Ids the post-processor did not name are absent (not the GGUF family defaults).
  for (auto* id : {&s.bos, &s.eos, &s.sep, &s.pad, &s.mask})
    if (!*id) *id = -1;
  return s;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_hf_json(std::string_view json_text) {
  json j;
  try {
    j = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {
    throw Error(cat("tokenizer.json: not valid JSON: ", e.what()));
  }
  try {
    return from_spec(spec_from_json(j));
  } catch (const json::exception& e) {
    throw Error(cat("tokenizer.json: unexpected structure: ", e.what()));
  }
}

std::unique_ptr<Tokenizer> Tokenizer::from_hf_json_file(const std::string& path) {
  const std::string text = read_file(path, "tokenizer file");
  try {
    return from_hf_json(text);
  } catch (const Error& e) {
    throw Error(cat(path, ": ", e.what()));
  }
}

}  // namespace helix::tok

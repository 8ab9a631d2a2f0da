#include "chatfile/corpus.h"

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "docs/chunker.h"
#include "knowledge/store.h"

namespace helix::chatfile {

const char* lang_name(Lang l) { return l == Lang::Zh ? "zh" : "en"; }

Lang detect_lang(std::string_view text) { return docs::mostly_cjk(text) ? Lang::Zh : Lang::En; }

Lang parse_lang(const std::string& s, std::string_view text) {
  if (s.empty() || s == "auto") return detect_lang(text);
  if (s == "en") return Lang::En;
  if (s == "zh") return Lang::Zh;
  throw Error(cat("unknown language '", s, "': use auto, en or zh"));
}

std::string where(const std::string& doc_name, int page_first, int page_last, const std::string& section) {
  std::string w = doc_name;
  if (page_first > 0) {
    w += cat(" p. ", page_first);
    if (page_last > page_first) w += cat("-", page_last);
  }
  if (!section.empty()) w += " \xC2\xB7 " + section;
  return w;
}

namespace {

std::string join_path(const std::vector<std::string>& path) {
  std::string s;
  for (const auto& h : path) s += (s.empty() ? "" : " > ") + h;
  return s;
}

// Packs the document's chunks into units of at most `budget` estimated tokens, in order.
void pack_units(const docs::Document& d, size_t doc, size_t budget, Corpus& c) {
  docs::ChunkOptions co;
  co.max_tokens = budget;
  co.overlap_tokens = 0;
  const auto chunks = docs::chunk_document(d, co);
  Unit u;
  auto flush = [&] {
    if (u.text.empty()) return;
    c.tokens += u.tokens;
    c.units.push_back(std::move(u));
    u = Unit{};
  };
  for (const auto& ch : chunks) {
    if (!u.text.empty() && u.tokens + ch.tokens > budget) flush();
    if (u.text.empty()) {
      u.doc = doc;
      u.section = join_path(ch.heading_path);
      u.page_first = ch.page;
    } else {
      u.text += "\n\n";
    }
    u.text += ch.text;
    u.tokens += ch.tokens;
    u.page_last = std::max(u.page_last, ch.page);
  }
  flush();
}

Corpus build(std::vector<docs::Document> docs, std::vector<std::string> shas, const CorpusOptions& opt) {
  HELIX_CHECK(opt.unit_tokens >= 64, "the unit budget must be at least 64 tokens (got ", opt.unit_tokens, ")");
  Corpus c;
  c.docs = std::move(docs);
  c.sha256 = std::move(shas);
  std::string sample;
  for (size_t i = 0; i < c.docs.size(); ++i) {
    HELIX_CHECK(!c.docs[i].blocks.empty(), c.docs[i].path, ": no text found in the document (a scanned PDF ",
                "without a text layer, or an empty file?)");
    pack_units(c.docs[i], i, opt.unit_tokens, c);
    sample += c.docs[i].text.substr(0, 20000);
  }
  c.lang = detect_lang(sample);
  return c;
}

}  // namespace

Corpus load_corpus(const std::vector<std::string>& paths, const CorpusOptions& opt) {
  HELIX_CHECK(!paths.empty(), "no file given: name one or more documents (txt, md, html, pdf, docx)");
  std::vector<docs::Document> ds;
  std::vector<std::string> shas;
  for (const auto& p : paths) {
    const std::string data = read_file(p, "document");
    ds.push_back(docs::parse_data(data, p));
    ds.back().path = p;
    shas.push_back(knowledge::sha256_hex(data));
  }
  return build(std::move(ds), std::move(shas), opt);
}

Corpus load_corpus_data(const std::vector<std::pair<std::string, std::string>>& named_data, const CorpusOptions& opt) {
  HELIX_CHECK(!named_data.empty(), "no document given");
  std::vector<docs::Document> ds;
  std::vector<std::string> shas;
  for (const auto& [name, data] : named_data) {
    ds.push_back(docs::parse_data(data, name));
    shas.push_back(knowledge::sha256_hex(data));
  }
  return build(std::move(ds), std::move(shas), opt);
}

}  // namespace helix::chatfile

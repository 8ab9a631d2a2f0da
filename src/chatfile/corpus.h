// The documents ChatFile works on: each file parsed by src/docs (txt, md, html, pdf, docx), cut by
// its structure-aware chunker and packed into "units" of up to a token budget for the map step of
// map-reduce (consecutive small sections share a unit; a heading still starts a chunk). Each unit
// knows where it came from (file, pages, section) so summaries and answers can point back.
//
//   Corpus c = load_corpus({"report.pdf"}, {.unit_tokens = 1500});
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "docs/document.h"

namespace helix::chatfile {

enum class Lang { En, Zh };
const char* lang_name(Lang l);  // "en", "zh"
// "auto" (empty too) -> from the text; "en"/"zh"; else throws naming the value.
Lang parse_lang(const std::string& s, std::string_view text);
// Chinese when docs::mostly_cjk (at least a fifth of the letters are CJK).
Lang detect_lang(std::string_view text);

struct Unit {
  size_t doc = 0;  // index into Corpus::docs
  std::string text;
  std::string section;  // the heading path of its first chunk, joined by " > "
  int page_first = 0, page_last = 0;
  size_t tokens = 0;  // estimated (docs::estimate_tokens), the budget unit
};

struct CorpusOptions {
  size_t unit_tokens = 1500;  // the map step's input budget per unit
};

struct Corpus {
  std::vector<docs::Document> docs;
  std::vector<std::string> sha256;  // of each file's bytes
  std::vector<Unit> units;
  size_t tokens = 0;  // sum of the units' estimated tokens
  Lang lang = Lang::En;
};

// Parses and cuts the files; throws helix::Error naming a file that cannot be read or parsed, or
// a document with no text.
Corpus load_corpus(const std::vector<std::string>& paths, const CorpusOptions& opt);
// The same from texts already in memory (name gives the type by extension, as parse_data does).
Corpus load_corpus_data(const std::vector<std::pair<std::string, std::string>>& named_data, const CorpusOptions& opt);

// "report.pdf p. 3-4 · Results > Costs": where a unit or passage comes from.
std::string where(const std::string& doc_name, int page_first, int page_last, const std::string& section);

}  // namespace helix::chatfile

// Text as the full-text index sees it. SQLite's unicode61 tokenizer splits on spaces and
// punctuation, so a run of Chinese or Japanese characters would be one huge token; runs of CJK
// characters are therefore indexed (and queried) as overlapping character bigrams ("知识库" ->
// "知识 识库"), which makes CJK text searchable by BM25 without a segmenter.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace helix::knowledge {

// The text stored in the FTS5 column: CJK runs replaced by space-separated bigrams (a lone CJK
// character stays a unigram); everything else unchanged.
std::string fts_body(std::string_view text);

// The distinct search terms of a query, lowercased, CJK runs as bigrams.
std::vector<std::string> query_terms(std::string_view query);

// The identifiers a query names, as written: command-line options ("-f", "--no-dereference"),
// snake_case or dotted names ("FIELD_LIST", "keygen.name") and camelCase words. The full-text
// index drops their punctuation ("--force" is the word "force", common in prose), so the
// knowledge-point path also ranks passages by whether they hold these exact strings.
std::vector<std::string> identifier_terms(std::string_view query);
// True when text holds term as a whole token (not inside a longer word, option or name).
bool holds_identifier(std::string_view text, std::string_view term);

// An FTS5 MATCH expression: the terms quoted and joined with OR; empty when there are none.
std::string fts_match(const std::vector<std::string>& terms);

}  // namespace helix::knowledge

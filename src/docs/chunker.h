// Structure-aware chunking: a document's blocks (headings, paragraphs, list items, tables, code)
// are packed into chunks of at most max_tokens tokens. A heading starts a new chunk (and stays
// with the text under it); a block too long for one chunk is split at sentence ends (Latin
// .!? and CJK 。！？；), then at spaces or line ends, and only as a last resort between two
// characters, never inside a UTF-8 character. Consecutive chunks of one section overlap by up to
// overlap_tokens tokens of whole sentences. Each chunk is a verbatim slice of Document::text and
// keeps its heading path, page and span.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "docs/document.h"

namespace helix::docs {

struct ChunkOptions {
  size_t max_tokens = 200;
  size_t overlap_tokens = 32;
  // Token count of a piece of text: the embedding model's tokenizer in the knowledge store;
  // estimate_tokens() when empty.
  std::function<size_t(std::string_view)> count_tokens;
};

struct Chunk {
  std::string text;  // == doc.text.substr(begin, end - begin)
  std::vector<std::string> heading_path;
  int page = 0;                         // first page (PDF), else 0
  size_t begin = 0, end = 0;            // byte span in Document::text
  size_t char_begin = 0, char_end = 0;  // the same span in Unicode characters
  size_t tokens = 0;                    // count_tokens(text)
};

// A rough token count without a tokenizer: one per CJK character or punctuation mark, one per
// four bytes of a word.
size_t estimate_tokens(std::string_view s);

// Splits text into sentences: byte offsets [begin, end) relative to text, trimmed of spaces.
std::vector<std::pair<size_t, size_t>> split_sentences(std::string_view text);

std::vector<Chunk> chunk_document(const Document& doc, const ChunkOptions& opts);

}  // namespace helix::docs

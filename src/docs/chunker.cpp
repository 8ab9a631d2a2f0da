// Structure-aware chunking (see chunker.h): blocks -> units (whole blocks, or sentences, lines,
// word runs and character runs of long blocks) -> chunks packed within the token budget.
#include "docs/chunker.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace helix::docs {
namespace {

struct Unit {
  size_t begin, end;  // byte span in doc.text
  size_t tokens;
  const Block* block;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_sentence_end(char32_t c) {
  return c == U'。' || c == U'！' || c == U'？' || c == U'；' || c == U'…';
}

bool is_closer(char32_t c) {
  return c == U'”' || c == U'」' || c == U'』' || c == U'）' || c == U'"' || c == U'\'' || c == U')';
}

class Splitter {
 public:
  Splitter(const Document& doc, const ChunkOptions& o)
      : text_(doc.text), max_(std::max<size_t>(1, o.max_tokens)), count_(o.count_tokens) {}

  size_t count(size_t b, size_t e) const {
    const std::string_view s(text_.data() + b, e - b);
    return count_ ? count_(s) : estimate_tokens(s);
  }

  // The units of one block, each within the budget.
  void block(const Block& blk, std::vector<Unit>& out) {
    const size_t t = count(blk.begin, blk.end);
    if (t <= max_ || blk.kind == BlockKind::Heading) {
      out.push_back({blk.begin, blk.end, t, &blk});
      return;
    }
    std::vector<std::pair<size_t, size_t>> parts;
    const std::string_view s(text_.data() + blk.begin, blk.end - blk.begin);
    if (blk.kind == BlockKind::Code || blk.kind == BlockKind::Table) {
      for (size_t p = 0; p < s.size();) {
        size_t nl = s.find('\n', p);
        if (nl == std::string_view::npos) nl = s.size();
        if (nl > p) parts.emplace_back(p, nl);
        p = nl + 1;
      }
    } else {
      parts = split_sentences(s);
    }
    for (const auto& [pb, pe] : parts) piece(blk, blk.begin + pb, blk.begin + pe, out);
  }

 private:
  // A sentence or line: whole if it fits, else word runs, else character runs.
  void piece(const Block& blk, size_t b, size_t e, std::vector<Unit>& out) {
    const size_t t = count(b, e);
    if (t <= max_) {
      out.push_back({b, e, t, &blk});
      return;
    }
    size_t run_b = b, run_t = 0, p = b;
    while (p < e) {
      size_t wb = p;
      while (wb < e && is_space(text_[wb])) ++wb;
      size_t we = wb;
      while (we < e && !is_space(text_[we])) ++we;
      if (wb == we) break;
      const size_t wt = count(wb, we);
      if (wt > max_) {  // one "word" over budget (e.g. CJK without punctuation): cut by characters
        if (run_t > 0) out.push_back({run_b, p, run_t, &blk});
        chars(blk, wb, we, out);
        run_b = we, run_t = 0;
      } else if (run_t + wt > max_) {
        out.push_back({run_b, p, run_t, &blk});
        run_b = wb, run_t = wt;
      } else {
        if (run_t == 0) run_b = wb;
        run_t += wt;
      }
      p = we;
    }
    if (run_t > 0) out.push_back({run_b, p, count(run_b, p), &blk});
  }

  // Cuts [b, e) between characters into runs within the budget (a single character over the
  // budget stays whole).
  void chars(const Block& blk, size_t b, size_t e, std::vector<Unit>& out) {
    std::vector<size_t> ends;  // the end of each character
    for (size_t i = b; i < e;) {
      tok::decode_utf8(text_, i);
      ends.push_back(std::min(i, e));
    }
    for (size_t first = 0; first < ends.size();) {
      size_t lo = first, hi = ends.size() - 1;  // the last character index that keeps the run in budget
      while (lo < hi) {
        const size_t mid = lo + (hi - lo + 1) / 2;
        if (count(b, ends[mid]) <= max_) lo = mid;
        else hi = mid - 1;
      }
      out.push_back({b, ends[lo], count(b, ends[lo]), &blk});
      b = ends[lo];
      first = lo + 1;
    }
  }

  const std::string& text_;
  size_t max_;
  const std::function<size_t(std::string_view)>& count_;
};

}  // namespace

size_t estimate_tokens(std::string_view s) {
  size_t n = 0, word = 0;
  for (size_t i = 0; i < s.size();) {
    const char32_t c = tok::decode_utf8(s, i);
    const bool alnum = (c < 0x80 && std::isalnum(static_cast<int>(c))) || (c >= 0x80 && !is_cjk(c) && c != 0x3000);
    if (alnum) {
      ++word;
      continue;
    }
    n += (word + 3) / 4;
    word = 0;
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') ++n;
  }
  return n + (word + 3) / 4;
}

std::vector<std::pair<size_t, size_t>> split_sentences(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t start = 0;
  auto emit = [&](size_t end) {
    while (start < end && is_space(s[start])) ++start;
    size_t e = end;
    while (e > start && is_space(s[e - 1])) --e;
    if (e > start) out.emplace_back(start, e);
    start = end;
  };
  for (size_t i = 0; i < s.size();) {
    const char32_t c = tok::decode_utf8(s, i);
    const bool latin_end = (c == '.' || c == '!' || c == '?') && (i == s.size() || is_space(s[i]) || s[i] == '"');
    if (!latin_end && !is_sentence_end(c)) continue;
    for (size_t j = i; j < s.size();) {  // closing quotes and brackets stay with the sentence
      size_t k = j;
      if (!is_closer(tok::decode_utf8(s, k))) break;
      i = j = k;
    }
    emit(i);
  }
  emit(s.size());
  return out;
}

std::vector<Chunk> chunk_document(const Document& doc, const ChunkOptions& opts) {
  Splitter sp(doc, opts);
  std::vector<Unit> units;
  for (const Block& b : doc.blocks) sp.block(b, units);

  std::vector<Chunk> chunks;
  size_t cursor_byte = 0, cursor_char = 0;  // incremental byte -> character offsets
  auto char_at = [&](size_t byte) {
    if (byte < cursor_byte) cursor_byte = 0, cursor_char = 0;
    cursor_char += count_chars(std::string_view(doc.text).substr(cursor_byte, byte - cursor_byte));
    cursor_byte = byte;
    return cursor_char;
  };
  // Emits units [first, last) as one chunk.
  auto emit = [&](size_t first, size_t last) {
    Chunk c;
    c.begin = units[first].begin;
    c.end = units[last - 1].end;
    c.text = doc.text.substr(c.begin, c.end - c.begin);
    const Unit* lead = &units[first];
    for (size_t i = first; i < last; ++i)
      if (units[i].block->kind != BlockKind::Heading) {
        lead = &units[i];
        break;
      }
    c.heading_path = lead->block->heading_path;
    c.page = lead->block->page;
    c.char_begin = char_at(c.begin);
    c.char_end = c.char_begin + count_chars(c.text);
    c.tokens = sp.count(c.begin, c.end);
    chunks.push_back(std::move(c));
  };

  size_t start = 0, tokens = 0;
  bool has_body = false;  // the open chunk holds more than headings
  for (size_t i = 0; i < units.size();) {
    const Unit& u = units[i];
    const bool heading = u.block->kind == BlockKind::Heading;
    if (i > start && ((heading && has_body) || tokens + u.tokens > opts.max_tokens)) {
      emit(start, i);
      size_t next = i;
      if (!heading) {  // overlap: whole trailing units of the same section, within overlap_tokens
        size_t ov = 0;
        while (next > start + 1 && units[next - 1].block->kind != BlockKind::Heading &&
               ov + units[next - 1].tokens <= opts.overlap_tokens &&
               ov + units[next - 1].tokens + u.tokens <= opts.max_tokens)
          ov += units[--next].tokens;
      }
      start = next;
      tokens = 0;
      has_body = false;
      for (size_t k = start; k < i; ++k) tokens += units[k].tokens, has_body = true;
    }
    tokens += u.tokens;
    has_body = has_body || !heading;
    ++i;
  }
  if (start < units.size()) emit(start, units.size());
  return chunks;
}

}  // namespace helix::docs

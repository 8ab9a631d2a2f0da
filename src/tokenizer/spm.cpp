// SentencePiece-style BPE with scores (`tokenizer.ggml.model` = llama): start from single UTF-8
// characters and repeatedly merge the adjacent pair whose concatenation is the vocabulary entry
// with the highest score (ties: the leftmost pair). Characters left without a token fall back to
// <0xXX> byte tokens. Symbols are a linked list over the text; candidate pairs sit in a heap and
// are dropped when either side has changed since they were queued.
//
// Speed: merges never cross a point where U+2581 follows another character unless the vocabulary
// has an entry spanning such a point (Gemma has one, ">▁</"), so the text is cut into words at
// those points (except inside occurrences of such entries) and words are memoised per thread.
// The result is identical to merging the whole text at once.
#include <algorithm>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace helix::tok {
namespace {

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t start;
  uint32_t n;   // 0 once merged into its left neighbour
  int32_t id;   // vocabulary entry of the symbol once merged (-1: a single, unlooked-up char)
};

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;
  int32_t id;
};

// Heap order: highest score first, then the leftmost pair.
struct Lower {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

struct Work {
  std::vector<Symbol> sym;
  std::vector<Bigram> heap;
};

void merge_spm(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  if (text.empty()) return;
  thread_local Work w;
  std::vector<Symbol>& sym = w.sym;
  std::vector<Bigram>& heap = w.heap;
  sym.clear();
  heap.clear();
  for (size_t off = 0; off < text.size();) {
    const size_t len = std::min(utf8_len(static_cast<uint8_t>(text[off])), text.size() - off);
    const auto idx = static_cast<int32_t>(sym.size());
    sym.push_back({idx - 1, off + len == text.size() ? -1 : idx + 1, static_cast<uint32_t>(off),
                   static_cast<uint32_t>(len), -1});
    off += len;
  }
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const std::string_view s(text.data() + sym[l].start, sym[l].n + sym[r].n);
    const int32_t id = v.map.find(s);
    // Byte tokens come from byte fallback only: text that spells one ("<0x41>") stays text, as in
    // SentencePiece and HF (llama.cpp merges into it when the vocabulary has the pieces to).
    if (id < 0 || (v.attr[id] & kAttrByte)) return;
    heap.push_back({v.score[id], l, r, static_cast<uint32_t>(s.size()), id});
    std::push_heap(heap.begin(), heap.end(), Lower{});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_add(i - 1, i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), Lower{});
    const Bigram bg = heap.back();
    heap.pop_back();
    Symbol& l = sym[bg.left];
    Symbol& r = sym[bg.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size) continue;  // outdated
    l.n += r.n;
    l.id = bg.id;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = bg.left;
    try_add(l.prev, bg.left);
    try_add(bg.left, l.next);
  }
  for (int32_t i = 0; i != -1; i = sym[i].next) {
    const Symbol& s = sym[i];
    const int32_t id = s.id >= 0 ? s.id : v.map.find(std::string_view(text.data() + s.start, s.n));
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (uint32_t k = 0; k < s.n; ++k) {  // byte fallback
      const int32_t b = v.byte_token[static_cast<uint8_t>(text[s.start + k])];
      if (b >= 0) out.push_back(b);
      else if (v.unk >= 0) out.push_back(v.unk);
    }
  }
}

bool is_space_mark(std::string_view t, size_t k) { return t.compare(k, 3, "\xe2\x96\x81") == 0; }

}  // namespace

void encode_spm(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  thread_local std::vector<uint32_t> cuts;
  thread_local std::vector<std::pair<uint32_t, uint32_t>> blocked;
  cuts.clear();
  blocked.clear();
  // Word starts: a U+2581 character (in llama.cpp's character segmentation) after another one.
  bool prev_other = false;
  for (size_t k = 0; k < text.size();) {
    const size_t len = std::min(utf8_len(static_cast<uint8_t>(text[k])), text.size() - k);
    const bool sp = len == 3 && is_space_mark(text, k);
    if (sp && prev_other) cuts.push_back(static_cast<uint32_t>(k));
    prev_other = !sp;
    k += len;
  }
  for (const int32_t id : v.spm_cross) {
    const std::string& t = v.text[id];
    for (size_t k = text.find(t); k != std::string_view::npos; k = text.find(t, k + 1))
      blocked.emplace_back(static_cast<uint32_t>(k), static_cast<uint32_t>(k + t.size()));
  }
  std::sort(blocked.begin(), blocked.end());
  WordCache& cache = WordCache::local();
  thread_local std::vector<int32_t> tmp;
  size_t start = 0, j = 0;
  uint32_t blocked_end = 0;
  auto word = [&](size_t b, size_t e) {
    const std::string_view w = text.substr(b, e - b);
    if (w.size() > WordCache::kMaxWord) {
      merge_spm(v, w, out);
      return;
    }
    const uint64_t h = hash_bytes(w.data(), w.size());
    if (const std::vector<int32_t>* ids = cache.get(v.serial, w, h)) {
      out.insert(out.end(), ids->begin(), ids->end());
      return;
    }
    tmp.clear();
    merge_spm(v, w, tmp);
    cache.put(v.serial, w, h, tmp.data(), tmp.size());
    out.insert(out.end(), tmp.begin(), tmp.end());
  };
  for (const uint32_t k : cuts) {
    while (j < blocked.size() && blocked[j].first < k) blocked_end = std::max(blocked_end, blocked[j++].second);
    if (k < blocked_end) continue;  // inside an entry that spans the cut
    word(start, k);
    start = k;
  }
  if (start < text.size()) word(start, text.size());
}

}  // namespace helix::tok

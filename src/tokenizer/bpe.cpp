// Byte-level BPE (`tokenizer.ggml.model` = gpt2): the text is split into words by the model's
// pre-tokenizer, each byte of a word starts as one symbol (GPT-2's byte -> printable character
// map, so vocabulary entries are compared in their stored form), and the adjacent pair with the
// lowest merge rank is merged until none is left (ties: the leftmost pair). Symbols carry string
// ids, so merging needs no string building: a merge maps (left id, right id) -> (rank, result).
// A final symbol that is not a vocabulary entry falls back to single-byte entries, as llama.cpp.
// Words are memoised per thread (WordCache).
//
// SentencePiece-style BPE (pre-tokenizers with `raw`: Gemma 4, Sarvam) merges raw UTF-8
// characters instead (vocabulary entries are raw text, spaces escaped to U+2581 first; not so
// for the whitespace pre-tokenizer), and a final symbol that is not an entry falls back to <0xXX>
// byte tokens.
#include <algorithm>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace helix::tok {
namespace {

struct Symbol {
  int32_t sid;
  int32_t prev;
  int32_t next;
  uint32_t start;
  uint32_t end;  // bytes [start, end) of the word (with any dropped bytes inside)
  uint32_t n;    // bytes it stands for; 0 once merged into its left neighbour
};

struct Bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t result;
  uint32_t size;
};

// Heap order: lowest rank first, then the leftmost pair.
struct Later {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

// The string id of a character that no entry or merge spells: it never merges.
constexpr int32_t kNoSid = 0x7fffffff;

struct Work {
  std::string escaped;
  std::string clean;
  std::vector<Span> words;
  std::vector<Symbol> sym;
  std::vector<Bigram> heap;
};

std::string encode_byte(uint8_t b) {
  std::string s;
  append_utf8(s, byte_to_cp(b));
  return s;
}

uint64_t pair_key(int32_t l, int32_t r) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
}

void merge_word(const Vocab& v, std::string_view word, uint32_t base, Work& w,
                std::vector<int32_t>& out) {
  std::vector<Symbol>& sym = w.sym;
  std::vector<Bigram>& heap = w.heap;
  sym.clear();
  heap.clear();
  if (v.pre->raw) {  // one symbol per character
    for (uint32_t i = 0; i < word.size();) {
      const auto len = static_cast<uint32_t>(
          std::min<size_t>(utf8_len(static_cast<uint8_t>(word[i])), word.size() - i));
      const int32_t id = v.map.find(word.substr(i, len));
      const auto idx = static_cast<int32_t>(sym.size());
      sym.push_back({id >= 0 ? id : kNoSid, idx - 1, idx + 1, base + i, base + i + len, len});
      i += len;
    }
  }
  // A byte that no token spells is dropped before merging, as Hugging Face does (so its
  // neighbours may merge); llama.cpp keeps it between them and drops it at the end.
  for (uint32_t i = 0; i < word.size() && !v.pre->raw; ++i) {
    const auto b = static_cast<uint8_t>(word[i]);
    if (v.byte_sid[b] >= v.n_vocab() && v.byte_fallback[b][0] < 0 && v.byte_fallback[b][1] < 0)
      continue;
    const auto idx = static_cast<int32_t>(sym.size());
    sym.push_back({v.byte_sid[b], idx - 1, idx + 1, base + i, base + i + 1, 1});
  }
  if (sym.empty()) return;
  sym.back().next = -1;
  const auto n = static_cast<int32_t>(sym.size());
  auto add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const PairMap::Value* m = v.merges.find(pair_key(sym[l].sid, sym[r].sid));
    if (!m) return;
    heap.push_back({m->rank, l, r, m->result, sym[l].n + sym[r].n});
    std::push_heap(heap.begin(), heap.end(), Later{});
  };
  for (int32_t i = 1; i < n; ++i) add(i - 1, i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), Later{});
    const Bigram bg = heap.back();
    heap.pop_back();
    Symbol& l = sym[bg.left];
    Symbol& r = sym[bg.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size) continue;  // outdated
    l.sid = bg.result;
    l.n += r.n;
    l.end = r.end;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = bg.left;
    add(l.prev, bg.left);
    add(bg.left, l.next);
  }
  for (int32_t i = 0; i != -1; i = sym[i].next) {
    const Symbol& s = sym[i];
    if (s.sid < v.n_vocab()) {
      out.push_back(s.sid);
      continue;
    }
    for (uint32_t k = s.start; k < s.end; ++k)
      for (const int32_t t : v.byte_fallback[static_cast<uint8_t>(word[k - base])])
        if (t >= 0) out.push_back(t);
  }
}

}  // namespace

void build_bpe(Vocab& v, const std::vector<std::string>& merges) {
  HELIX_CHECK(!merges.empty(), "tokenizer: byte-level BPE needs merges (tokenizer.ggml.merges)");
  std::unordered_map<std::string, int32_t> extra;
  auto sid_of = [&](const std::string& s) -> int32_t {
    const int32_t id = v.map.find(s);
    if (id >= 0) return id;
    auto it = extra.find(s);
    if (it != extra.end()) return it->second;
    const auto sid = static_cast<int32_t>(v.n_vocab() + extra.size());
    extra.emplace(s, sid);
    return sid;
  };
  static const char* hex = "0123456789ABCDEF";
  for (int b = 0; b < 256 && v.pre->raw; ++b) {  // <0xXX> tokens
    const char buf[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
    v.byte_sid[b] = kNoSid;
    v.byte_fallback[b] = {v.map.find(buf), -1};
  }
  for (int b = 0; b < 256 && !v.pre->raw; ++b) {
    const std::string s = encode_byte(static_cast<uint8_t>(b));
    v.byte_sid[b] = sid_of(s);
    v.byte_fallback[b] = {-1, -1};
    for (size_t k = 0; k < s.size() && k < 2; ++k) v.byte_fallback[b][k] = v.map.find(s.substr(k, 1));
  }
  v.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    const size_t pos = m.find(' ', 1);
    if (pos == std::string::npos) continue;
    const std::string first = m.substr(0, pos), second = m.substr(pos + 1);
    if (first.empty() || second.empty()) continue;
    const int32_t l = sid_of(first), r = sid_of(second), res = sid_of(first + second);
    v.merges.insert(pair_key(l, r), {static_cast<int32_t>(i), res});
  }
  HELIX_CHECK(v.n_vocab() + extra.size() < (1u << 31), "tokenizer: too many merge strings");
  if (v.ignore_merges && !v.pre->raw) {  // whole words are looked up by their raw bytes
    std::vector<std::string> raw;
    std::vector<int32_t> ids;
    for (int32_t id = 0; id < v.n_vocab(); ++id) {
      const std::string& t = v.text[id];
      std::string r;
      bool ok = true;
      for (size_t i = 0; i < t.size() && ok;) {
        const int b = byte_from_cp(decode_utf8(t, i));
        if (b < 0) ok = false;
        else r.push_back(static_cast<char>(b));
      }
      if (ok) {
        raw.push_back(std::move(r));
        ids.push_back(id);
      }
    }
    v.raw_map.build(raw, ids);
  }
}

void encode_bpe(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  thread_local Work w;
  if (v.pre->raw && !v.pre->keep_spaces) {  // spaces as U+2581
    w.escaped.clear();
    for (const char c : text) {
      if (c == ' ') w.escaped += "\xe2\x96\x81";
      else w.escaped.push_back(c);
    }
    text = w.escaped;
  }
  const std::string_view clean = sanitize_utf8(text, w.clean);
  w.words.clear();
  pretokenize(*v.pre, clean, w.words);
  for (const Span sp : w.words) {
    const std::string_view word = clean.substr(sp.begin, sp.end - sp.begin);
    if (v.ignore_merges || (v.pre->newline_tokens && word.find_first_not_of('\n') == std::string_view::npos)) {
      const int32_t id = v.pre->raw ? v.map.find(word) : v.raw_map.find(word);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
    }
    if (word.size() == 1 && !v.pre->raw) {
      const int32_t sid = v.byte_sid[static_cast<uint8_t>(word[0])];
      if (sid < v.n_vocab()) out.push_back(sid);
      else
        for (const int32_t t : v.byte_fallback[static_cast<uint8_t>(word[0])])
          if (t >= 0) out.push_back(t);
      continue;
    }
    if (word.size() > WordCache::kMaxWord) {
      merge_word(v, word, sp.begin, w, out);
      continue;
    }
    WordCache& cache = WordCache::local();
    const uint64_t h = hash_bytes(word.data(), word.size());
    if (const std::vector<int32_t>* ids = cache.get(v.serial, word, h)) {
      out.insert(out.end(), ids->begin(), ids->end());
      continue;
    }
    const size_t before = out.size();
    merge_word(v, word, sp.begin, w, out);
    cache.put(v.serial, word, h, out.data() + before, out.size() - before);
  }
}

}  // namespace helix::tok

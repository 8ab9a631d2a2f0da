// Token masks from matcher states (see token_matcher.h).
#include "grammar/token_matcher.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tokenizer/tokenizer.h"

namespace helix::grammar {
namespace {

void set_bit(std::vector<uint64_t>& bits, int32_t id) {
  bits[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (static_cast<uint32_t>(id) & 63);
}

}  // namespace

Trie Trie::build(std::vector<std::pair<std::string, int32_t>> entries) {
  std::erase_if(entries, [](const auto& e) { return e.first.empty(); });
  std::sort(entries.begin(), entries.end());
  Trie t;
  t.nodes.push_back(Node{});
  std::vector<uint32_t> path = {0};  // path[d]: the node at depth d of the previous string
  const std::string* prev = nullptr;
  for (const auto& [s, value] : entries) {
    size_t lcp = 0;
    if (prev)
      while (lcp < s.size() && lcp < prev->size() && s[lcp] == (*prev)[lcp]) ++lcp;
    while (path.size() > lcp + 1) {
      t.nodes[path.back()].end = static_cast<uint32_t>(t.nodes.size());
      path.pop_back();
    }
    for (size_t d = lcp; d < s.size(); ++d) {
      Node n;
      n.byte = static_cast<uint8_t>(s[d]);
      t.nodes.push_back(n);
      path.push_back(static_cast<uint32_t>(t.nodes.size() - 1));
    }
    Node& at = t.nodes[path.back()];
    if (at.count == 0) at.first = static_cast<uint32_t>(t.values.size());
    t.values.push_back(value);  // equal strings are adjacent after sorting: values stay contiguous
    ++at.count;
    t.max_depth = std::max(t.max_depth, s.size());
    prev = &s;
  }
  for (const uint32_t n : path) t.nodes[n].end = static_cast<uint32_t>(t.nodes.size());
  return t;
}

Vocabulary::Vocabulary(const tok::Tokenizer& tok) {
  const int32_t n = tok.n_vocab();
  pieces_.resize(static_cast<size_t>(n));
  for (int32_t id = 0; id < n; ++id) {
    if (tok.is_eog(id)) eog_.push_back(id);
    if (tok.is_control(id) || tok.is_eog(id)) continue;  // never text
    pieces_[static_cast<size_t>(id)] = tok.token_to_piece(id, false);
  }
  build();
}

Vocabulary::Vocabulary(std::vector<std::string> pieces, std::vector<int32_t> eog)
    : pieces_(std::move(pieces)), eog_(std::move(eog)) {
  for (const int32_t id : eog_) pieces_[static_cast<size_t>(id)].clear();
  build();
}

void Vocabulary::build() {
  std::sort(eog_.begin(), eog_.end());
  std::vector<std::pair<std::string, int32_t>> entries;
  entries.reserve(pieces_.size());
  for (size_t id = 0; id < pieces_.size(); ++id) entries.emplace_back(pieces_[id], static_cast<int32_t>(id));
  trie_ = Trie::build(std::move(entries));
  string_table(strscan::kNormal);  // the common case, built now rather than on a request's first string
}

bool Vocabulary::is_eog(int32_t id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

const Vocabulary::StringTable& Vocabulary::string_table(uint8_t scanner_state) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto& slot = tables_[scanner_state & 15];
  if (slot) return *slot;
  auto t = std::make_unique<StringTable>();
  t->stay.assign((pieces_.size() + 63) / 64, 0);
  std::vector<std::pair<std::string, int32_t>> after;
  for (size_t id = 0; id < pieces_.size(); ++id) {
    const std::string& p = pieces_[id];
    if (p.empty()) continue;
    uint8_t st = scanner_state;
    int32_t chars = 0;
    size_t i = 0;
    bool dead = false, closed = false;
    for (; i < p.size(); ++i) {
      const uint8_t nx = strscan::next(st, static_cast<uint8_t>(p[i]));
      if (nx == strscan::kDead) {
        dead = true;
        break;
      }
      if (nx == strscan::kClose) {
        closed = true;
        break;
      }
      if (st == strscan::kNormal) ++chars;  // the matcher counts a character where it starts
      st = nx;
    }
    if (dead) continue;
    const auto tid = static_cast<int32_t>(id);
    if (!closed) {
      set_bit(t->stay, tid);
      t->stay_by_chars.emplace_back(chars, tid);
      t->max_stay_chars = std::max(t->max_stay_chars, chars);
    } else if (i + 1 == p.size()) {
      t->close_now.emplace_back(chars, tid);
    } else {
      after.emplace_back(p.substr(i + 1), static_cast<int32_t>(t->close_ids.size()));
      t->close_ids.push_back(tid);
      t->close_chars.push_back(chars);
    }
  }
  std::sort(t->stay_by_chars.begin(), t->stay_by_chars.end());
  t->after_close = Trie::build(std::move(after));
  slot = std::move(t);
  return *slot;
}

namespace {
// The constraint's grammar, checked before the matcher's members are built from it.
const Grammar& grammar_of(const std::shared_ptr<const Constraint>& c) {
  HELIX_CHECK(c && c->grammar && c->vocab, "a constraint needs a grammar and a vocabulary");
  return *c->grammar;
}
}  // namespace

TokenMatcher::TokenMatcher(std::shared_ptr<const Constraint> c)
    : c_(std::move(c)), m_(grammar_of(c_)), state_(m_.start()) {
  mask_.assign((static_cast<size_t>(c_->vocab->size()) + 63) / 64, 0);
}

template <typename Mark>
void TokenMatcher::walk(const Trie& t, uint32_t node, size_t depth, Mark&& mark) {
  const uint32_t end = t.nodes[node].end;
  for (uint32_t ch = node + 1; ch < end; ch = t.nodes[ch].end) {
    const Trie::Node& n = t.nodes[ch];
    if (!m_.advance(states_[depth], n.byte, states_[depth + 1])) continue;
    for (uint32_t k = n.first; k < n.first + n.count; ++k) mark(t.values[k]);
    if (n.end > ch + 1) walk(t, ch, depth + 1, mark);
  }
}

// A stack whose top is inside a string: tokens that stay in the string come from the table;
// tokens that close it are checked against the state after the closing quote.
void TokenMatcher::string_stack(const State& one) {
  const Frame& f = one.frames.back();
  const Node& n = c_->grammar->node(f.node);
  const Vocabulary::StringTable& t = c_->vocab->string_table(f.sub);
  const int64_t budget = n.max_len == kUnbounded ? kUnbounded : n.max_len - f.b;  // characters left
  const int64_t need = n.min_len - f.b;                                           // before '"'
  if (budget >= t.max_stay_chars) {
    for (size_t w = 0; w < mask_.size(); ++w) mask_[w] |= t.stay[w];
  } else {
    for (const auto& [chars, id] : t.stay_by_chars) {
      if (chars > budget) break;
      set_bit(mask_, id);
    }
  }
  // The state after the closing quote: the bytes before it end between characters, and the
  // character count is checked per token (`fits`), so close from a state that always may.
  State open = one;
  open.frames.back().sub = strscan::kNormal;
  open.frames.back().b = static_cast<int32_t>(std::clamp<int64_t>(n.min_len, f.b, std::numeric_limits<int32_t>::max()));
  if (states_.size() < t.after_close.max_depth + 2) states_.resize(t.after_close.max_depth + 2);
  if (!m_.advance(open, '"', states_[0])) return;
  auto fits = [&](int32_t chars) { return chars >= need && chars <= budget; };
  for (const auto& [chars, id] : t.close_now)
    if (fits(chars)) set_bit(mask_, id);
  walk(t.after_close, 0, 0, [&](int32_t k) {
    if (fits(t.close_chars[static_cast<size_t>(k)])) set_bit(mask_, t.close_ids[static_cast<size_t>(k)]);
  });
}

void TokenMatcher::compute() {
  std::fill(mask_.begin(), mask_.end(), 0);
  const Vocabulary& v = *c_->vocab;
  if (!done_) {
    State rest, one;
    for (size_t i = 0; i < state_.n_stacks(); ++i) {
      const auto b = state_.frames.begin() + static_cast<std::ptrdiff_t>(state_.begin_of(i));
      const auto e = state_.frames.begin() + static_cast<std::ptrdiff_t>(state_.ends[i]);
      const Frame& top = *(e - 1);
      const bool in_string = top.node >= 0 && c_->grammar->node(top.node).kind == Kind::kString && top.phase != 0;
      State& dst = in_string ? one : rest;
      if (in_string) one.clear();
      dst.frames.insert(dst.frames.end(), b, e);
      dst.ends.push_back(static_cast<uint32_t>(dst.frames.size()));
      if (in_string) string_stack(one);
    }
    if (!rest.empty()) {
      if (states_.size() < v.trie().max_depth + 2) states_.resize(v.trie().max_depth + 2);
      states_[0] = rest;
      walk(v.trie(), 0, 0, [&](int32_t id) { set_bit(mask_, id); });
    }
  }
  bool any = false;
  for (const uint64_t w : mask_) any = any || w != 0;
  // End of generation: when the value is complete, or (a vocabulary that cannot spell what the
  // grammar needs) when nothing else is possible, so generation always has a way to stop.
  if (done_ || m_.complete(state_) || !any)
    for (const int32_t id : v.eog()) set_bit(mask_, id);
  fresh_ = true;
}

const std::vector<uint64_t>& TokenMatcher::mask() {
  if (!fresh_) compute();
  return mask_;
}

bool TokenMatcher::allowed(int32_t id) {
  if (id < 0 || id >= c_->vocab->size()) return false;
  return (mask()[static_cast<size_t>(id) >> 6] >> (static_cast<uint32_t>(id) & 63)) & 1;
}

void TokenMatcher::apply(float* logits, int64_t n_logits) {
  const auto& bits = mask();
  const int64_t nv = std::min<int64_t>(n_logits, c_->vocab->size());
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (int64_t w = 0; w * 64 < nv; ++w) {
    const uint64_t word = bits[static_cast<size_t>(w)];
    if (word == ~uint64_t{0}) continue;
    const int64_t hi = std::min<int64_t>(nv, (w + 1) * 64);
    if (word == 0) {  // the common word at structural positions: a plain fill
      std::fill(logits + w * 64, logits + hi, kNegInf);
      continue;
    }
    for (int64_t i = w * 64; i < hi; ++i)
      if (!((word >> (i & 63)) & 1)) logits[i] = kNegInf;
  }
  for (int64_t i = nv; i < n_logits; ++i) logits[i] = kNegInf;
}

bool TokenMatcher::accept(int32_t id) {
  if (!allowed(id)) return false;
  if (c_->vocab->is_eog(id)) {
    done_ = true;
  } else {
    m_.advance(state_, c_->vocab->piece(id));
  }
  fresh_ = false;
  return true;
}

bool TokenMatcher::accept_bytes(std::string_view bytes) {
  State s = state_;
  if (!m_.advance(s, bytes)) return false;
  state_ = std::move(s);
  fresh_ = false;
  return true;
}

}  // namespace helix::grammar

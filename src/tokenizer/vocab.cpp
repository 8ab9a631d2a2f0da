// Vocabulary construction and the special-token partition (see vocab.h). Defaults, attribute
// fix-ups and the end-of-generation set follow llama.cpp's vocabulary loader so that a GGUF
// file tokenizes the same way in both.
#include "tokenizer/vocab.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <map>

#include "core/error.h"
#include "tokenizer/ugm.h"
#include "tokenizer/unicode.h"

namespace helix::tok {

uint64_t hash_bytes(const char* p, size_t n) {
  constexpr uint64_t k1 = 0x9e3779b97f4a7c15ull, k2 = 0xff51afd7ed558ccdull;
  uint64_t h = k1 ^ (n * k2);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ (w * k2)) * k1;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ (w * k2)) * k1;
  }
  h ^= h >> 33;
  h *= k2;
  h ^= h >> 32;
  return h;
}

// ---- PieceMap ----------------------------------------------------------------------------

void PieceMap::build(const std::vector<std::string>& keys) {
  std::vector<int32_t> ids(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) ids[i] = static_cast<int32_t>(i);
  build(keys, ids);
}

void PieceMap::build(const std::vector<std::string>& keys, const std::vector<int32_t>& ids) {
  size_t cap = 16;
  while (cap < keys.size() * 2) cap <<= 1;
  mask_ = cap - 1;
  slots_.assign(cap, Slot{0, -1, 0, 0});
  blob_.clear();
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& k = keys[i];
    if (k.empty() || find(k) >= 0) continue;
    const uint64_t h = hash_bytes(k.data(), k.size());
    const auto off = static_cast<uint32_t>(blob_.size());
    blob_ += k;
    HELIX_CHECK(blob_.size() < (uint64_t{1} << 32), "tokenizer: vocabulary text too large");
    for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
      if (slots_[s].id < 0) {
        slots_[s] = Slot{static_cast<uint32_t>(h), ids[i], off, static_cast<uint32_t>(k.size())};
        break;
      }
    }
  }
}

int32_t PieceMap::find(std::string_view key) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash_bytes(key.data(), key.size());
  const auto h32 = static_cast<uint32_t>(h);
  for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
    const Slot& sl = slots_[s];
    if (sl.id < 0) return -1;
    if (sl.hash == h32 && sl.len == key.size() &&
        std::memcmp(blob_.data() + sl.off, key.data(), key.size()) == 0)
      return sl.id;
  }
}

// ---- PairMap -----------------------------------------------------------------------------

void PairMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  keys_.assign(cap, ~0ull);
  vals_.assign(cap, Value{0, 0});
  mask_ = cap - 1;
  size_ = 0;
}

static uint64_t mix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

bool PairMap::insert(uint64_t key, Value v) {
  if ((size_ + 1) * 2 > keys_.size()) {  // grow
    std::vector<uint64_t> ok;
    std::vector<Value> ov;
    ok.swap(keys_);
    ov.swap(vals_);
    reserve(std::max<size_t>(16, ok.size()));
    for (size_t i = 0; i < ok.size(); ++i)
      if (ok[i] != ~0ull) insert(ok[i], ov[i]);
  }
  for (uint64_t s = mix64(key) & mask_;; s = (s + 1) & mask_) {
    if (keys_[s] == key) return false;
    if (keys_[s] == ~0ull) {
      keys_[s] = key;
      vals_[s] = v;
      ++size_;
      return true;
    }
  }
}

const PairMap::Value* PairMap::find(uint64_t key) const {
  if (keys_.empty()) return nullptr;
  for (uint64_t s = mix64(key) & mask_;; s = (s + 1) & mask_) {
    if (keys_[s] == key) return &vals_[s];
    if (keys_[s] == ~0ull) return nullptr;
  }
}

// ---- SpecialTrie -------------------------------------------------------------------------

void SpecialTrie::build(const std::vector<std::string>& text, const std::vector<int32_t>& ids) {
  // Build with maps, then flatten into sorted edge lists.
  std::vector<std::map<uint8_t, uint32_t>> kids(1);
  std::vector<int32_t> tok(1, -1);
  for (const int32_t id : ids) {
    const std::string& t = text[id];
    if (t.empty()) continue;
    uint32_t node = 0;
    for (const char ch : t) {
      const auto c = static_cast<uint8_t>(ch);
      auto it = kids[node].find(c);
      if (it == kids[node].end()) {
        const auto child = static_cast<uint32_t>(kids.size());
        kids[node].emplace(c, child);
        kids.emplace_back();
        tok.push_back(-1);
        node = child;
      } else {
        node = it->second;
      }
    }
    if (tok[node] < 0) tok[node] = id;
  }
  nodes_.assign(kids.size(), Node{});
  edges_.clear();
  root_.fill(0);
  for (size_t n = 0; n < kids.size(); ++n) {
    nodes_[n].token = tok[n];
    nodes_[n].first_edge = static_cast<uint32_t>(edges_.size());
    nodes_[n].n_edges = static_cast<uint32_t>(kids[n].size());
    for (const auto& [c, child] : kids[n]) edges_.push_back(Edge{c, child});
  }
  for (const auto& [c, child] : kids[0]) root_[c] = child;
}

// ---- vocabulary --------------------------------------------------------------------------

namespace {

uint32_t attr_from_type(int32_t t) {
  switch (t) {
    case kTypeNormal: return kAttrNormal;
    case kTypeUnknown: return kAttrUnknown;
    case kTypeControl: return kAttrControl;
    case kTypeUserDefined: return kAttrUserDefined;
    case kTypeUnused: return kAttrUnused;
    case kTypeByte: return kAttrByte;
    default: return kAttrUndefined;
  }
}

}  // namespace

// The piece a token stands for (render_special = true), as llama.cpp's token_to_piece. PLaMo 2
// shows every token's text, except byte tokens (their byte). BPE over raw UTF-8 without the
// U+2581 escape (whitespace) shows its entries as they are: llama.cpp decodes them as GPT-2
// byte images, which turns Latin-1 letters into stray bytes and other characters into
// "[UNK_BYTE_0x...]" text.
std::string make_piece(const Vocab& v, int32_t id) {
  const std::string& t = v.text[id];
  const uint32_t a = v.attr[id];
  if (v.type == VocabType::kPlamo2) {
    if ((a & kAttrByte) && t.size() == 6 && t.compare(0, 3, "<0x") == 0 && std::isxdigit(static_cast<uint8_t>(t[3])) &&
        std::isxdigit(static_cast<uint8_t>(t[4])) && t[5] == '>')
      return std::string(1, static_cast<char>(std::strtol(t.substr(3, 2).c_str(), nullptr, 16)));
    return t;
  }
  if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t;
  if (a & kAttrNormal) {
    if (v.type == VocabType::kBpe && v.pre->keep_spaces) return t;
    if (v.type == VocabType::kBpe && !v.pre->raw) {
      std::string out;
      size_t i = 0;
      while (i < t.size()) {
        const size_t start = i;
        const uint32_t cp = decode_utf8(t, i);
        const int b = byte_from_cp(cp);
        if (b >= 0) out.push_back(static_cast<char>(b));
        else out.append(t, start, i - start);  // not a byte image: keep the character
      }
      return out;
    }
    std::string out;
    out.reserve(t.size());
    for (size_t i = 0; i < t.size(); ++i) {
      if (t.compare(i, 3, "\xe2\x96\x81") == 0) {
        out.push_back(' ');
        i += 2;
      } else {
        out.push_back(t[i]);
      }
    }
    return out;
  }
  if (a & kAttrByte) {
    if (t.size() == 6 && t.compare(0, 3, "<0x") == 0) {
      return std::string(1, static_cast<char>(std::strtol(t.substr(3, 2).c_str(), nullptr, 16)));
    }
    return t;
  }
  return "";
}

namespace {

// A vocabulary-less model (tokenizer.ggml.model = none): `vocab_size` ids without text.
Vocab build_none(const VocabSpec& spec) {
  Vocab v;
  v.type = VocabType::kNone;
  v.model = spec.model;
  HELIX_CHECK(spec.vocab_size >= 0 && spec.vocab_size < (int64_t{1} << 30), "tokenizer: vocab_size ",
              spec.vocab_size, " is out of range");
  const auto n = static_cast<size_t>(spec.vocab_size);
  v.text.assign(n, std::string());
  v.score.assign(n, 0.0f);
  v.attr.assign(n, kAttrUndefined);
  v.pieces.assign(n, std::string());
  return v;
}

}  // namespace

Vocab build_vocab(const VocabSpec& spec) {
  if (spec.model == "none" || spec.model == "no_vocab") return build_none(spec);
  Vocab v;
  const size_t n = spec.tokens.size();
  HELIX_CHECK(n > 0, "tokenizer: the vocabulary is empty");
  HELIX_CHECK(n < (1u << 30), "tokenizer: vocabulary too large (", n, " tokens)");
  HELIX_CHECK(spec.scores.empty() || spec.scores.size() >= n, "tokenizer: ", spec.scores.size(),
              " scores for ", n, " tokens");
  HELIX_CHECK(spec.types.empty() || spec.types.size() >= n, "tokenizer: ", spec.types.size(),
              " token types for ", n, " tokens");

  // Family defaults (llama.cpp's).
  int64_t bos = -1, eos = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  if (spec.model == "llama") {
    v.type = VocabType::kSpm;
    bos = 1, eos = 2, unk = 0;
    v.add_space_prefix = true;
    v.add_bos = true;
  } else if (spec.model == "gpt2" || spec.model == "whitespace" || spec.model == "hybriddna") {
    v.type = VocabType::kBpe;
    v.bpe_mode = spec.model == "whitespace"  ? BpeMode::kWhitespace
                 : spec.model == "hybriddna" ? BpeMode::kHybridDna
                                             : BpeMode::kPlain;
    v.pre_name = spec.pre;
    v.pre = &pre_tokenizer(spec.pre);
    bos = v.pre->no_bos ? -1 : 11, eos = 11;
    v.ignore_merges = v.pre->ignore_merges;
    v.add_bos = v.pre->add_bos;
    if (spec.pre == "whitespace") v.lowercase = false;  // the whitespace model's own option
  } else if (spec.model == "plamo2") {
    v.type = VocabType::kPlamo2;
    bos = 1, eos = 2, unk = 0, pad = 3;
  } else if (spec.model == "gemma4") {  // SentencePiece-style BPE with merges
    v.type = VocabType::kBpe;
    v.pre_name = "gemma4";
    v.pre = &pre_tokenizer("gemma4");
  } else if (spec.model == "bert") {
    v.type = VocabType::kWpm;
    bos = 101, unk = 100, sep = 102, pad = 0, mask = 103;
    v.add_bos = true;
    v.add_sep = true;
  } else if (spec.model == "rwkv") {
    v.type = VocabType::kRwkv;
  } else if (spec.model == "t5") {
    v.type = VocabType::kUgm;
    eos = 1, unk = 2, pad = 0;
    v.add_eos = true;
  } else {
    throw Error(cat("unsupported tokenizer model '", spec.model,
                    "' (tokenizer.ggml.model; supported: llama, gpt2, gemma4, bert, t5, rwkv, plamo2, "
                    "whitespace, hybriddna, none)"));
  }

  v.model = spec.model;
  v.text = spec.tokens;
  v.score.assign(n, 0.0f);
  if (!spec.scores.empty()) std::copy(spec.scores.begin(), spec.scores.begin() + n, v.score.begin());
  v.attr.assign(n, kAttrNormal);
  if (!spec.types.empty())
    for (size_t i = 0; i < n; ++i) v.attr[i] = attr_from_type(spec.types[i]);
  v.map.build(v.text);
  for (const auto& t : v.text) v.max_token_len = std::max(v.max_token_len, t.size());

  auto pick = [&](const std::optional<int64_t>& given, int64_t def) -> int32_t {
    int64_t id = def;
    if (given && *given >= 0 && *given < static_cast<int64_t>(n)) id = *given;
    if (given && *given < 0) id = -1;
    return id >= 0 && id < static_cast<int64_t>(n) ? static_cast<int32_t>(id) : -1;
  };
  v.bos = pick(spec.bos, bos);
  v.eos = pick(spec.eos, eos);
  v.unk = pick(spec.unk, unk);
  v.sep = pick(spec.sep, sep);
  v.pad = pick(spec.pad, pad);
  v.mask = pick(spec.mask, mask);
  v.eot = pick(spec.eot, -1);
  v.eom = pick(spec.eom, -1);
  if (spec.add_bos) v.add_bos = *spec.add_bos;
  if (v.pre && v.pre->force_bos) v.add_bos = true;
  if (spec.add_eos) v.add_eos = *spec.add_eos;
  if (spec.add_sep) v.add_sep = *spec.add_sep;
  if (spec.add_space_prefix && v.type != VocabType::kBpe) v.add_space_prefix = *spec.add_space_prefix;
  if (spec.lowercase) v.lowercase = v.strip_accents = *spec.lowercase;
  if (spec.strip_accents) v.strip_accents = *spec.strip_accents;
  if (spec.max_input_chars_per_word && *spec.max_input_chars_per_word >= 0)
    v.max_input_chars_per_word = static_cast<size_t>(*spec.max_input_chars_per_word);
  HELIX_CHECK(!v.add_bos || v.bos >= 0, "tokenizer: add_bos_token is set but there is no BOS token");
  HELIX_CHECK(!v.add_eos || v.eos >= 0, "tokenizer: add_eos_token is set but there is no EOS token");
  if (v.add_sep && v.sep < 0) v.add_sep = false;

  // Tokens recognised by their text (llama.cpp marks them control and end-of-generation).
  auto find = [&](const char* t) { return v.map.find(t); };
  auto make_control = [&](int32_t id) {
    if (id >= 0) v.attr[id] |= kAttrControl;
  };
  if (v.eot < 0) {
    for (const char* t : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                          "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                          "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>",
                          "<end_of_utterance>"}) {
      const int32_t id = find(t);
      if (id >= 0 && (v.eot < 0 || id < v.eot)) v.eot = id;
    }
    make_control(v.eot);
  }
  if (v.eom < 0) {
    v.eom = find("<|eom_id|>");
    make_control(v.eom);
  }
  for (const char* t : {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "<|fim_suffix|>",
                        "<fim-suffix>", "<fim_suffix>", "<SUF>", "<|fim_middle|>", "<fim-middle>",
                        "<fim_middle>", "<MID>", "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                        "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
                        "<|file_sep|>"})
    make_control(find(t));
  for (size_t i = 0; i < n; ++i)
    if ((v.attr[i] & kAttrControl) && v.text[i].find("unused") != std::string::npos)
      v.attr[i] |= kAttrUnused;

  std::vector<int32_t> eog;
  for (const char* t : {"<|fim_pad|>", "<|fim_repo|>", "<|file_sep|>"}) {
    if (find(t) >= 0) eog.push_back(find(t));
  }
  for (const char* t :
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>", "[e~["}) {
    const int32_t id = find(t);
    if (id < 0) continue;
    eog.push_back(id);
    make_control(id);
  }
  for (const char* t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})
    if (find(t) >= 0) v.attr[find(t)] = kAttrUserDefined;
  for (const int32_t id : {v.eos, v.eot, v.eom})
    if (id >= 0) eog.push_back(id);
  auto in_eog = [&](const char* t) {
    const int32_t id = find(t);
    return id >= 0 && std::find(eog.begin(), eog.end(), id) != eog.end();
  };
  if (in_eog("<|end|>") && ((in_eog("<|return|>") && in_eog("<|call|>")) ||
                            (in_eog("<|calls|>") && in_eog("<|flush|>")))) {
    const int32_t id = find("<|end|>");
    eog.erase(std::remove(eog.begin(), eog.end(), id), eog.end());
    v.attr[id] = kAttrUserDefined;
  }
  if (in_eog("<|tool_response>") && in_eog("</s>")) {
    const int32_t id = find("</s>");
    eog.erase(std::remove(eog.begin(), eog.end(), id), eog.end());
    v.attr[id] = kAttrNormal;
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  v.eog = std::move(eog);

  // Special tokens, longest first (ties by id, for a deterministic order).
  for (size_t i = 0; i < n; ++i)
    if (v.attr[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown))
      v.specials.push_back(static_cast<int32_t>(i));
  std::stable_sort(v.specials.begin(), v.specials.end(), [&](int32_t a, int32_t b) {
    return v.text[a].size() > v.text[b].size();
  });
  v.special_trie.build(v.text, v.specials);

  // Per-model attributes (llama.cpp sets these by name).
  std::string lname = spec.name;
  for (char& c : lname) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lname.find("phi-3") != std::string::npos || lname.find("phi3") != std::string::npos) {
    for (const int32_t id : v.specials) v.attr[id] |= kAttrRstrip;
    if (find("</s>") >= 0) v.attr[find("</s>")] |= kAttrRstrip;
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"})
      if (find(t) >= 0) v.attr[find(t)] &= ~kAttrRstrip;
  } else if (spec.pre.find("jina-v2-") != std::string::npos && find("<mask>") >= 0) {
    v.attr[find("<mask>")] |= kAttrLstrip;
  }

  for (const int32_t id : spec.lstrip_ids)
    if (v.has(id)) v.attr[id] |= kAttrLstrip;
  for (const int32_t id : spec.rstrip_ids)
    if (v.has(id)) v.attr[id] |= kAttrRstrip;
  if (spec.ignore_merges) v.ignore_merges = *spec.ignore_merges;

  // Byte tokens for SentencePiece byte fallback.
  v.byte_token.fill(-1);
  static const char* hex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char buf[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
    int32_t id = v.map.find(buf);
    if (id < 0) id = v.map.find(std::string(1, static_cast<char>(b)));
    v.byte_token[b] = id;
  }

  if (v.type == VocabType::kSpm) {
    for (size_t i = 0; i < n; ++i) {  // byte-level check: any U+2581 after a different byte
      const std::string& t = v.text[i];
      for (size_t k = t.find("\xe2\x96\x81", 1); k != std::string::npos; k = t.find("\xe2\x96\x81", k + 1)) {
        if (k < 3 || t.compare(k - 3, 3, "\xe2\x96\x81") != 0) {
          v.spm_cross.push_back(static_cast<int32_t>(i));
          break;
        }
      }
    }
  }

  static std::atomic<uint64_t> serial{0};
  v.serial = ++serial;
  v.pieces.resize(n);
  for (size_t i = 0; i < n; ++i) v.pieces[i] = make_piece(v, static_cast<int32_t>(i));

  if (v.type == VocabType::kBpe) build_bpe(v, spec.merges);
  if (v.type == VocabType::kRwkv) {
    std::vector<std::string> raw(n);
    std::vector<int32_t> ids(n);
    for (size_t i = 0; i < n; ++i) {
      raw[i] = unescape_rwkv(v.text[i]);
      ids[i] = static_cast<int32_t>(i);
      v.pieces[i] = raw[i];
    }
    v.rwkv_trie.build(raw, ids);
  }
  if (v.type == VocabType::kUgm)
    v.ugm = build_ugm(v, spec.precompiled_charsmap, spec.remove_extra_whitespaces.value_or(false));
  if (v.type == VocabType::kPlamo2) v.plamo2 = build_plamo2(v);
  if (v.bpe_mode == BpeMode::kHybridDna) prepare_hybriddna(v);
  return v;
}

// ---- partition ---------------------------------------------------------------------------

namespace {

bool c_isspace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Priority of special tokens: longest first, then by id (deterministic where llama.cpp's sort
// leaves equal lengths unordered).
struct ByPriority {
  const Vocab& v;
  bool operator()(int32_t a, int32_t b) const {
    const size_t la = v.text[a].size(), lb = v.text[b].size();
    return la != lb ? la > lb : a < b;
  }
};

struct Occurrence {
  uint64_t key;  // priority: longest first, then lowest id
  uint32_t pos;
  int32_t id;
};

// llama.cpp's procedure, one pass per present token over the fragment list, each pass searching
// the raw fragments. Used when the occurrence list would be too large.
void partition_by_search(const Vocab& v, std::string_view text, std::vector<int32_t>& present,
                         std::vector<Fragment>& out) {
  std::sort(present.begin(), present.end());
  present.erase(std::unique(present.begin(), present.end()), present.end());
  std::sort(present.begin(), present.end(), ByPriority{v});
  thread_local std::vector<Fragment> next;
  for (const int32_t id : present) {
    const std::string& tt = v.text[id];
    const uint32_t a = v.attr[id];
    next.clear();
    for (const Fragment& f : out) {
      if (f.token >= 0 || f.len < tt.size()) {
        next.push_back(f);
        continue;
      }
      uint64_t base = f.off;
      const uint64_t end = static_cast<uint64_t>(f.off) + f.len;
      while (base < end) {
        const size_t m = text.substr(0, end).find(tt, base);
        if (m == std::string_view::npos) {
          next.push_back({static_cast<uint32_t>(base), static_cast<uint32_t>(end - base), -1});
          break;
        }
        uint64_t left_len = m - base;
        if (a & kAttrLstrip)
          while (left_len > 0 && c_isspace(text[base + left_len - 1])) --left_len;
        if (left_len > 0) next.push_back({static_cast<uint32_t>(base), static_cast<uint32_t>(left_len), -1});
        next.push_back({0, 0, id});
        base = m + tt.size();
        if (a & kAttrRstrip)
          while (base < end && c_isspace(text[base])) ++base;
      }
    }
    out.swap(next);
  }
}

}  // namespace

// The same result from the list of all occurrences: tokens in priority order, each taking its
// occurrences left to right that do not touch text already taken. (An earlier, longer-or-equal
// token's region cannot lie strictly inside a later occurrence, so checking both ends suffices.)
void partition_specials(const Vocab& v, std::string_view text, bool parse_special,
                        std::vector<Fragment>& out) {
  out.clear();
  if (text.empty()) return;
  out.push_back({0, static_cast<uint32_t>(text.size()), -1});
  if (v.special_trie.empty()) return;

  thread_local std::vector<Occurrence> occ;
  thread_local std::vector<int32_t> present;
  occ.clear();
  present.clear();
  const uint32_t skip = parse_special ? 0u : (kAttrControl | kAttrUnknown);
  const size_t budget = 4 * text.size() + 1024;
  bool over = false;
  v.special_trie.scan(text, [&](uint32_t pos, int32_t id) {
    if (v.attr[id] & skip) return;
    if (!over && occ.size() < budget) {
      const uint64_t len = v.text[id].size();
      occ.push_back({((0xffffffffull - len) << 32) | static_cast<uint32_t>(id), pos, id});
      return;
    }
    if (!over) {  // too many: keep only which tokens occur
      over = true;
      for (const Occurrence& o : occ) present.push_back(o.id);
      occ.clear();
    }
    present.push_back(id);
    if (present.size() > 4096) {
      std::sort(present.begin(), present.end());
      present.erase(std::unique(present.begin(), present.end()), present.end());
    }
  });
  if (over) {
    partition_by_search(v, text, present, out);
    return;
  }
  if (occ.empty()) return;

  std::sort(occ.begin(), occ.end(), [](const Occurrence& a, const Occurrence& b) {
    return a.key != b.key ? a.key < b.key : a.pos < b.pos;
  });
  thread_local std::vector<uint8_t> taken;
  thread_local std::vector<Fragment> regions;  // off/len: region taken; token: its token
  taken.assign(text.size(), 0);
  regions.clear();
  int32_t cur = -1;
  uint64_t last_end = 0;
  for (const Occurrence& o : occ) {
    if (o.id != cur) {
      cur = o.id;
      last_end = 0;
    }
    const size_t len = v.text[o.id].size();
    if (o.pos < last_end || taken[o.pos] || taken[o.pos + len - 1]) continue;
    const uint32_t a = v.attr[o.id];
    size_t b = o.pos, e = o.pos + len;
    if (a & kAttrLstrip)
      while (b > 0 && !taken[b - 1] && c_isspace(text[b - 1])) --b;
    if (a & kAttrRstrip)
      while (e < text.size() && !taken[e] && c_isspace(text[e])) ++e;
    std::fill(taken.begin() + static_cast<ptrdiff_t>(b), taken.begin() + static_cast<ptrdiff_t>(e), 1);
    regions.push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(e - b), o.id});
    last_end = e;
  }
  std::sort(regions.begin(), regions.end(),
            [](const Fragment& x, const Fragment& y) { return x.off < y.off; });
  out.clear();
  uint32_t pos = 0;
  for (const Fragment& r : regions) {
    if (r.off > pos) out.push_back({pos, r.off - pos, -1});
    out.push_back({0, 0, r.token});
    pos = r.off + r.len;
  }
  if (pos < text.size()) out.push_back({pos, static_cast<uint32_t>(text.size() - pos), -1});
}

}  // namespace helix::tok

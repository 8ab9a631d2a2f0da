// Unicode lookups for the tokenizers (see unicode.h): a two-level flags table built once from
// the generated run tables, run-table searches for lowercase and NFD, and UTF-8 helpers.
#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>

namespace helix::tok {
namespace {

constexpr uint32_t kMaxCp = 0x110000;
constexpr uint32_t kBlock = 256;

// flags = blocks[index[cp >> 8]][cp & 255]; identical blocks are shared.
struct FlagTable {
  std::vector<uint16_t> index;
  std::vector<uint16_t> blocks;

  FlagTable() {
    std::vector<uint16_t> flat(kMaxCp);
    for (size_t r = 0; r < tables::kCategoryRunsSize; ++r) {
      const uint32_t first = tables::kCategoryRuns[r] >> 8;
      const uint32_t last =
          r + 1 < tables::kCategoryRunsSize ? (tables::kCategoryRuns[r + 1] >> 8) : kMaxCp;
      const uint16_t f = static_cast<uint16_t>(tables::kCategoryRuns[r] & 0xff);
      std::fill(flat.begin() + first, flat.begin() + last, f);
    }
    for (size_t i = 0; i < tables::kWhitespaceSize; ++i)
      flat[tables::kWhitespace[i]] |= kWhitespaceBit;
    for (size_t r = 0; r < tables::kBertRunsSize; ++r) {
      const uint32_t first = tables::kBertRuns[r] >> 8;
      const uint32_t last =
          r + 1 < tables::kBertRunsSize ? (tables::kBertRuns[r + 1] >> 8) : kMaxCp;
      const auto f = static_cast<uint16_t>((tables::kBertRuns[r] & 0xff) << 9);  // kBert* bits
      for (uint32_t cp = first; cp < last; ++cp) flat[cp] |= f;
    }
    for (size_t r = 0; r < tables::kSubRunsSize; ++r) {
      const uint32_t first = tables::kSubRuns[r] >> 8;
      const uint32_t last = r + 1 < tables::kSubRunsSize ? (tables::kSubRuns[r + 1] >> 8) : kMaxCp;
      const auto f = static_cast<uint16_t>((tables::kSubRuns[r] & 0xff) << 12);  // kUpper...
      for (uint32_t cp = first; cp < last; ++cp) flat[cp] |= f;
    }
    std::map<std::vector<uint16_t>, uint16_t> seen;
    index.resize(kMaxCp / kBlock);
    for (uint32_t b = 0; b < kMaxCp / kBlock; ++b) {
      std::vector<uint16_t> blk(flat.begin() + b * kBlock, flat.begin() + (b + 1) * kBlock);
      auto it = seen.find(blk);
      if (it == seen.end()) {
        const auto id = static_cast<uint16_t>(seen.size());
        it = seen.emplace(std::move(blk), id).first;
        blocks.insert(blocks.end(), it->first.begin(), it->first.end());
      }
      index[b] = it->second;
    }
  }
};

const FlagTable& flag_table() {
  static const FlagTable t;
  return t;
}

struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 512> from_cp{};  // images are < 0x144
  ByteMap() {
    from_cp.fill(-1);
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : 256 + n++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

}  // namespace

uint16_t cp_flags(uint32_t cp) {
  if (cp >= kMaxCp) return kUndefined;
  const FlagTable& t = flag_table();
  return t.blocks[static_cast<size_t>(t.index[cp >> 8]) * kBlock + (cp & 0xff)];
}

bool is_word_char(uint32_t cp, uint16_t flags) {
  if (flags & (kLetter | kMark | kDigit)) return true;
  if (std::binary_search(tables::kConnectorPunct, tables::kConnectorPunct + tables::kConnectorPunctSize, cp))
    return true;
  const auto* end = tables::kWordExtra + tables::kWordExtraSize;
  const auto* it = std::upper_bound(tables::kWordExtra, end, cp,
                                    [](uint32_t v, const uint32_t (&r)[2]) { return v < r[0]; });
  return it != tables::kWordExtra && cp <= (it - 1)[0][1];
}

uint32_t to_lower(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  const auto* begin = tables::kLowerRuns;
  const auto* end = tables::kLowerRuns + tables::kLowerRunsSize;
  auto it = std::upper_bound(begin, end, cp, [](uint32_t v, const tables::MapRun& r) { return v < r.first; });
  if (it == begin) return cp;
  --it;
  const uint32_t off = cp - it->first;
  if (off % it->step != 0 || off / it->step >= it->count) return cp;
  return static_cast<uint32_t>(static_cast<int64_t>(cp) + it->delta);
}

uint32_t nfd_first(uint32_t cp) {
  if (cp < 0xc0) return cp;
  if (cp >= 0xac00 && cp <= 0xd7a3) return 0x1100 + (cp - 0xac00) / 588;  // Hangul: leading jamo
  const auto* begin = tables::kNfdRuns;
  const auto* end = tables::kNfdRuns + tables::kNfdRunsSize;
  auto it = std::upper_bound(begin, end, cp, [](uint32_t v, const tables::NfdRun& r) { return v < r.first; });
  if (it == begin) return cp;
  --it;
  const uint32_t off = cp - it->first;
  if (off >= it->count) return cp;
  return it->target + off * it->target_step;
}

size_t nfd_bert(uint32_t cp, uint32_t out[3]) {
  if (cp >= 0xac00 && cp <= 0xd7a3) {  // Hangul syllable: L V (T) jamo, computed
    const uint32_t s = cp - 0xac00;
    out[0] = 0x1100 + s / 588;
    out[1] = 0x1161 + (s % 588) / 28;
    out[2] = 0x11a7 + s % 28;
    return s % 28 ? 3 : 2;
  }
  if (cp >= tables::kNfdBert[0].cp) {
    const auto* end = tables::kNfdBert + tables::kNfdBertSize;
    const auto* it = std::lower_bound(tables::kNfdBert, end, cp,
                                      [](const tables::NfdSeq& e, uint32_t v) { return e.cp < v; });
    if (it != end && it->cp == cp) {
      std::copy(it->d, it->d + it->n, out);
      return it->n;
    }
  }
  out[0] = nfd_first(cp);
  return 1;
}

uint8_t combining_class(uint32_t cp) {
  if (cp < 0x300) return 0;
  const auto* begin = tables::kCombiningRuns;
  const auto* end = tables::kCombiningRuns + tables::kCombiningRunsSize;
  auto it = std::upper_bound(begin, end, cp,
                             [](uint32_t v, const tables::CccRun& r) { return v < r.first; });
  if (it == begin) return 0;
  --it;
  return cp - it->first < it->count ? it->ccc : 0;
}

uint32_t decode_utf8(std::string_view s, size_t& i) {
  const auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = at(i);
  if (!(b0 & 0x80)) {
    i += 1;
    return b0;
  }
  const auto cont = [&](size_t k) { return k < s.size() && (at(k) & 0xc0) == 0x80; };
  if ((b0 & 0x40) && !(b0 & 0x20)) {
    if (cont(i + 1)) {
      const uint32_t cp = ((b0 & 0x1fu) << 6) | (at(i + 1) & 0x3fu);
      i += 2;
      return cp;
    }
  } else if ((b0 & 0x40) && !(b0 & 0x10)) {
    if (cont(i + 1) && cont(i + 2)) {
      const uint32_t cp = ((b0 & 0x0fu) << 12) | ((at(i + 1) & 0x3fu) << 6) | (at(i + 2) & 0x3fu);
      i += 3;
      return cp;
    }
  } else if ((b0 & 0x40) && !(b0 & 0x08)) {
    if (cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      const uint32_t cp = ((b0 & 0x07u) << 18) | ((at(i + 1) & 0x3fu) << 12) |
                          ((at(i + 2) & 0x3fu) << 6) | (at(i + 3) & 0x3fu);
      if (cp < kMaxCp) {
        i += 4;
        return cp;
      }
    }
  }
  i += 1;
  return 0xfffd;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < kMaxCp) {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out += "\xef\xbf\xbd";
  }
}

namespace {
// Size of the canonical encoding of cp (what append_utf8 writes).
size_t utf8_size(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }
}  // namespace

std::string_view sanitize_utf8(std::string_view s, std::string& scratch) {
  size_t i = 0;
  // Fast path: find the first byte position where decoding is not canonical.
  while (i < s.size()) {
    if (!(static_cast<uint8_t>(s[i]) & 0x80)) {
      ++i;
      continue;
    }
    size_t j = i;
    const uint32_t cp = decode_utf8(s, j);
    const bool bad = (cp == 0xfffd && !(j - i == 3 && s.compare(i, 3, "\xef\xbf\xbd") == 0)) ||
                     utf8_size(cp) != j - i;
    if (bad) break;
    i = j;
  }
  if (i == s.size()) return s;
  scratch.assign(s.data(), i);
  while (i < s.size()) append_utf8(scratch, decode_utf8(s, i));
  return scratch;
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t j = i;
    const uint32_t cp = decode_utf8(s, j);
    if (j == i + 1) return false;  // invalid byte (decode consumed one byte)
    if (utf8_size(cp) != j - i) return false;  // overlong
    if (cp >= 0xd800 && cp <= 0xdfff) return false;
    i = j;
  }
  return true;
}

size_t utf8_incomplete_tail(std::string_view s) {
  const size_t n = s.size();
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    const uint8_t b = static_cast<uint8_t>(s[n - k]);
    if ((b & 0xc0) == 0x80) continue;  // continuation byte: keep looking for the lead
    if (b < 0xc0) return 0;            // ASCII: nothing pending
    const size_t need = utf8_len(b);
    return need > k ? k : 0;
  }
  return 0;
}

uint32_t byte_to_cp(uint8_t b) { return byte_map().to_cp[b]; }

int byte_from_cp(uint32_t cp) { return cp < 512 ? byte_map().from_cp[cp] : -1; }

}  // namespace helix::tok

// Pre-tokenizers (see pretokenize.h): the family table, the stages that run a family's regex
// sequence, and the hand-written scanners for the most common patterns. Text is decoded once
// into code points with their category flags; each stage turns a list of pieces (code point
// ranges) into a finer list.
#include "tokenizer/pretokenize.h"

#include <utility>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace helix::tok {
namespace {

struct Piece {
  uint32_t b;
  uint32_t e;
};

struct Ctx {
  std::vector<uint32_t> cp;
  std::vector<uint16_t> fl;
  std::vector<uint32_t> off;  // byte offset of each code point, plus the text size
  std::vector<Piece> a;
  std::vector<Piece> b;

  void decode(std::string_view text) {
    cp.clear();
    fl.clear();
    off.clear();
    size_t i = 0;
    while (i < text.size()) {
      off.push_back(static_cast<uint32_t>(i));
      const uint32_t c = decode_utf8(text, i);
      cp.push_back(c);
      fl.push_back(cp_flags(c));
    }
    off.push_back(static_cast<uint32_t>(text.size()));
  }
};

constexpr uint16_t kWs = kWhitespaceBit;
constexpr uint32_t kOutOfRange = 0xffffffffu;

// A scanner works on one piece [b, e); code points outside it read as "nothing".
struct View {
  const Ctx& c;
  size_t b, e;
  uint32_t cp(size_t p) const { return p >= b && p < e ? c.cp[p] : kOutOfRange; }
  uint16_t fl(size_t p) const { return p >= b && p < e ? c.fl[p] : 0; }
};

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void scan_gpt2(const Ctx& c, Piece pc, std::vector<Piece>& out) {
  const View v{c, pc.b, pc.e};
  size_t prev = pc.b;
  auto add = [&](size_t end) {
    if (end > prev) out.push_back({static_cast<uint32_t>(prev), static_cast<uint32_t>(end)});
    prev = end;
  };
  for (size_t pos = pc.b; pos < pc.e;) {
    const uint32_t cpt = v.cp(pos);
    const uint16_t f = v.fl(pos);
    if (cpt == '\'' && pos + 1 < pc.e) {
      const uint32_t n1 = v.cp(pos + 1);
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        add(pos += 2);
        continue;
      }
      if (pos + 2 < pc.e) {
        const uint32_t n2 = v.cp(pos + 2);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          add(pos += 3);
          continue;
        }
      }
    }
    uint16_t f2 = cpt == ' ' ? v.fl(pos + 1) : f;
    if (f2 & kLetter) {
      pos += (cpt == ' ');
      while (f2 & kLetter) f2 = v.fl(++pos);
      add(pos);
      continue;
    }
    if (f2 & kNumber) {
      pos += (cpt == ' ');
      while (f2 & kNumber) f2 = v.fl(++pos);
      add(pos);
      continue;
    }
    if (!(f2 & (kWs | kLetter | kNumber)) && f2) {
      pos += (cpt == ' ');
      while (!(f2 & (kWs | kLetter | kNumber)) && f2) f2 = v.fl(++pos);
      add(pos);
      continue;
    }
    size_t nws = 0;
    while (v.fl(pos + nws) & kWs) ++nws;
    if (nws > 1 && pos + nws < pc.e) {  // \s+(?!\S): leave the last space to the next word
      add(pos += nws - 1);
      continue;
    }
    if (nws > 0) {
      add(pos += nws);
      continue;
    }
    add(++pos);
  }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+   with D = max_digits (3 for llama3, 1 for qwen2)
void scan_llama3(const Ctx& c, Piece pc, size_t max_digits, std::vector<Piece>& out) {
  const View v{c, pc.b, pc.e};
  size_t prev = pc.b;
  auto add = [&](size_t end) {
    if (end > prev) out.push_back({static_cast<uint32_t>(prev), static_cast<uint32_t>(end)});
    prev = end;
  };
  for (size_t pos = pc.b; pos < pc.e;) {
    const uint32_t cpt = v.cp(pos);
    const uint16_t f = v.fl(pos);
    if (cpt == '\'' && pos + 1 < pc.e) {
      const uint32_t n1 = to_lower(v.cp(pos + 1));
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        add(pos += 2);
        continue;
      }
      if (pos + 2 < pc.e) {
        const uint32_t n2 = to_lower(v.cp(pos + 2));
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          add(pos += 3);
          continue;
        }
      }
    }
    if (!(cpt == '\r' || cpt == '\n' || (f & kNumber))) {
      if ((f & kLetter) || (v.fl(pos + 1) & kLetter)) {
        ++pos;
        while (v.fl(pos) & kLetter) ++pos;
        add(pos);
        continue;
      }
    }
    if (f & kNumber) {
      size_t ini = pos;
      while (v.fl(pos) & kNumber) {
        if (++pos - ini >= max_digits) {
          add(pos);
          ini = pos;
        }
      }
      add(pos);
      continue;
    }
    uint16_t f2 = cpt == ' ' ? v.fl(pos + 1) : f;
    if (!(f2 & (kWs | kLetter | kNumber)) && f) {
      pos += (cpt == ' ');
      while (!(f2 & (kWs | kLetter | kNumber)) && f2) f2 = v.fl(++pos);
      uint32_t c2 = v.cp(pos);
      while (c2 == '\r' || c2 == '\n') c2 = v.cp(++pos);
      add(pos);
      continue;
    }
    size_t nws = 0;
    size_t last_rn = 0;
    while (v.fl(pos + nws) & kWs) {
      const uint32_t c2 = v.cp(pos + nws);
      if (c2 == '\r' || c2 == '\n') last_rn = pos + nws + 1;
      ++nws;
    }
    if (last_rn > 0) {  // \s*[\r\n]+
      add(pos = last_rn);
      continue;
    }
    if (nws > 1 && pos + nws < pc.e) {
      add(pos += nws - 1);
      continue;
    }
    if (nws > 0) {
      add(pos += nws);
      continue;
    }
    add(++pos);
  }
}

// Hugging Face's Split(regex, "isolated") on each piece: the matches found left to right
// (Oniguruma's find_iter: after an empty match the search moves on by one code point, and an
// empty match right where the previous match ended is skipped) and the gaps between them.
void split_regex(const PreRegex& re, const Ctx& c, const std::vector<Piece>& in,
                 std::vector<Piece>& out) {
  const CpText t{c.cp.data(), c.fl.data()};
  for (const Piece pc : in) {
    uint32_t gap = pc.b;
    int64_t last_end = -1;
    for (uint32_t p = pc.b; p <= pc.e;) {
      int64_t m = -1;
      uint32_t q = p;
      for (; q <= pc.e; ++q) {
        m = re.match_at(t, pc.b, pc.e, q);
        if (m >= 0 && !(m == q && last_end == q)) break;
        m = -1;
      }
      if (m < 0) break;
      const auto me = static_cast<uint32_t>(m);
      if (q > gap) out.push_back({gap, q});
      if (me > q) out.push_back({q, me});
      gap = me;
      last_end = m;
      p = me > q ? me : q + 1;
    }
    if (gap < pc.e) out.push_back({gap, pc.e});
  }
}

// (?=(\d{3})+(?!\d)) split: cuts every run of decimal digits so that, from its end, it falls
// into groups of three (superbpe's "1234567" -> "1" "234" "567").
void split_thousands(const Ctx& c, const std::vector<Piece>& in, std::vector<Piece>& out) {
  for (const Piece pc : in) {
    uint32_t gap = pc.b;
    for (uint32_t p = pc.b; p < pc.e;) {
      if (!(c.fl[p] & kDigit)) {
        ++p;
        continue;
      }
      uint32_t r = p;
      while (r < pc.e && (c.fl[r] & kDigit)) ++r;
      for (uint32_t cut = p + (r - p) % 3; cut < r; cut += 3)
        if (cut > gap) out.push_back({gap, cut}), gap = cut;
      p = r;
    }
    if (gap < pc.e) out.push_back({gap, pc.e});
  }
}

// ---- the family table ------------------------------------------------------------------------

#define GPT2_RE R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re"
#define LLAMA3_RE(D)                                                        \
  R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})re" D \
  R"re(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"
#define PREFIX R"re([^\r\n\p{L}\p{N}]?)re"
#define UPPER R"re([\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}])re"
#define LOWER R"re([\p{Ll}\p{Lm}\p{Lo}\p{M}])re"
#define UPPER_NOT_HAN R"re([\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]])re"
#define LOWER_NOT_HAN R"re([\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]])re"
#define CONTRACTION R"re((?i:'s|'t|'re|'ve|'m|'ll|'d))re"
#define TAIL R"re(|\s*[\r\n]+|\s+(?!\S)|\s+)re"
#define PORO_RE R"re( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)re"
#define CJK_RE R"re([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re"
// DeepSeek LLM's letters: cased letters of many scripts (its tokenizer.json spells them out).
#define DEEPSEEK_LETTERS \
  R"re(A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})re" \
  R"re(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}-\x{377}\x{37B}-\x{37D}\x{37F}\x{386})re" \
  R"re(\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F})re" \
  R"re(\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA})re" \
  R"re(\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})re" \
  R"re(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D})re" \
  R"re(\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4})re" \
  R"re(\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3})re" \
  R"re(\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})re" \
  R"re(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D})re" \
  R"re(\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}-\x{2184})re" \
  R"re(\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}-\x{2CF3})re" \
  R"re(\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787})re" \
  R"re(\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})re" \
  R"re(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})re" \
  R"re(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})re" \
  R"re(\x{1E900}-\x{1E943})re"

const char* const kGpt2Re = GPT2_RE;
const char* const kLlama3Re = LLAMA3_RE("{1,3}");
const char* const kQwen2Re = LLAMA3_RE("");
const char* const kThousandsRe = R"re((?=(\d{3})+(?!\d)))re";

struct FamilyDef {
  const char* names;  // space-separated; the first names the family
  std::vector<std::string> regexes;
  bool ignore_merges = false;
  bool add_bos = false;
  bool no_bos = false;
  bool raw = false;
  bool newline_tokens = false;
  bool force_bos = false;
  bool keep_spaces = false;
};

// The pre-tokenizer types of llama.cpp's vocabulary loader (llama-vocab.cpp) with the regexes
// of the models' tokenizer.json files (where llama.cpp rewrote one for std::regex, the
// original).
const std::vector<FamilyDef>& family_defs() {
  static const std::vector<FamilyDef> defs = {
      {"default", {R"re([\p{P}\$\+<=>\^~\|]+)re", kGpt2Re, R"re(\p{N}+)re", "[0-9][0-9][0-9]"}},
      {"gpt-2 gpt2 phi-2 jina-es jina-de gigachat jina-v2-es jina-v2-de a.x-4.0 mellum "
       "modern-bert jina-v1-en jina-v2-code roberta-bpe mpt olmo jais trillion granite-docling "
       "exaone4",
       {kGpt2Re}},
      {"llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2 jina-v5-nano",
       {kLlama3Re}, true, true},
      {"dbrx smaug-bpe", {kLlama3Re}},
      {"chatglm-bpe glm4", {kLlama3Re}, false, false, true},
      {"qwen2 deepseek-r1-qwen kormo f2llmv2 stablelm2 hunyuan solar-open megrez grok-2",
       {kQwen2Re}},
      {"bailingmoe bailingmoe2 llada-moe",
       {R"re('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*)re"
        R"re(|\s*[\r\n]|\s+(?!\S)|\s+)re"}},
      {"deepseek-llm",
       {"[\r\n]", R"re(\s?[)re" DEEPSEEK_LETTERS "]+",
        R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re",
        R"re(\s+$)re", CJK_RE, R"re(\p{N}+)re"}},
      {"deepseek-coder", {"[\r\n]", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", CJK_RE, R"re(\p{N})re"}},
      {"deepseek-v3 hunyuan-dense joyai-llm hy_v4",
       {R"re(\p{N}{1,3})re", R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re",
        R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+)re"
        R"re(|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*)re" TAIL}},
      {"afmoe",  // digits grouped in threes from the right (llama.cpp's custom AFMoE split)
       {R"re(\p{N}{1,3}(?=(?:\p{N}{3})*(?!\p{N})))re",
        R"re([\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{F900}-\x{FAFF}\x{3040}-\x{309F}\x{30A0}-\x{30FF})re"
        R"re(\x{FF65}-\x{FF9F}\x{2F00}-\x{2FDF}\x{0E40}-\x{0E7F}\x{0E80}-\x{0EFF}\x{1780}-\x{17FF})re"
        R"re(\x{1000}-\x{109F}\x{AA60}-\x{AA7F}\x{A9E0}-\x{A9FF}\x{AC00}-\x{D7AF}\x{1100}-\x{11FF}]+)re",
        R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+)re"
        R"re(|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*)re" TAIL}},
      {"falcon", {R"re([\p{P}\$\+<=>\^~\|`]+)re", kGpt2Re, "[0-9][0-9][0-9]"}},
      {"starcoder refact command-r smollm codeshell exaone minerva-7b mellum2",
       {R"re(\p{N})re", kGpt2Re}},
      {"poro-chat bloom gpt3-finnish", {PORO_RE}},
      {"viking", {PORO_RE, R"re(\p{N})re"}},
      {"tekken",
       {PREFIX UPPER "*" LOWER "+|" PREFIX UPPER "+" LOWER
        R"re(*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*)re" TAIL},
       true, true},
      {"chameleon",
       {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\t\n]|    |  )",
        R"re(\p{N})re", R"re([\p{P}!-/:-@\[-`{-~])re", kGpt2Re},
       false, true},
      {"gpt-4o llama4 kanana2 talkie minimax-m2",
       {PREFIX UPPER "*" LOWER "+" CONTRACTION "?|" PREFIX UPPER "+" LOWER "*" CONTRACTION
        R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*)re" TAIL}},
      {"superbpe", {R"re(\p{N}+)re", kThousandsRe}},
      {"seed-coder",
       {R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1})re"
        R"re(| ?[^\s\p{L}\p{N}\r\n]+)re" TAIL}},
      {"kimi-k2",
       {R"re([\p{Han}]+|)re" PREFIX UPPER_NOT_HAN "*" LOWER_NOT_HAN "+" CONTRACTION "?|" PREFIX
            UPPER_NOT_HAN "+" LOWER_NOT_HAN "*" CONTRACTION
        R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*)re" TAIL}},
      // Types of newer llama.cpp versions.
      {"qwen35",
       {CONTRACTION R"re(|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*)re" TAIL}},
      {"exaone-moe",
       {CONTRACTION R"re(|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N})re"
                    R"re(| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)re"}},
      {"youtu",
       {R"re([\x{AC00}-\x{D7A3}\x{3131}-\x{318E}]+)re"
        R"re(|[\x{FF01}\x{2026}\x{201C}\x{201D}\x{2018}\x{2019}\x{2014}\x{FF1A}\x{FF1B}\x{FF0C})re"
        R"re(\x{3001}-\x{303F}\x{FE30}-\x{FE4F}]+|[\x{3105}-\x{312F}]+)re"
        R"re(|[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re",
        PREFIX UPPER "*" LOWER "+" CONTRACTION "?|" PREFIX UPPER "+" LOWER "*" CONTRACTION
        R"re(?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*)re" TAIL},
       true},
      {"spark2_5",
       {R"re(\p{N}{1,3})re", R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re",
        R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+)re"
        R"re(|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+)re",
        R"re(\p{N})re"}},
      {"ufakzeka", {R"re([^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*)re" TAIL}},
      {"minicpm5",
       {R"re(\p{N}{1,3})re",
        CONTRACTION R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*)re" TAIL},
       true},
      {"jais-2",
       {CONTRACTION R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+)re"
        R"re(|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S))re"
        R"re(|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})re"}},
      {"laguna", {R"re([^\n]+|[\n]+)re", kQwen2Re}},
      // SentencePiece-style BPE: whole lines (llama.cpp splits at newlines only).
      {.names = "gemma4 granite-embed-multi-311m", .regexes = {R"re([^\n]+|[\n]+)re"},
       .raw = true, .newline_tokens = true, .force_bos = true},
      {.names = "sarvam-moe", .regexes = {R"re([^\n]+|[\n]+)re"}, .raw = true},
      // Runs of non-whitespace over raw UTF-8 (jina-embeddings-v2-base-zh's Whitespace split).
      {.names = "whitespace", .regexes = {R"re(\S+)re"}, .raw = true, .keep_spaces = true},
      {"tiny_aya cohere2moe",
       {R"re(\d{1,3}(?=(?:\d{3})*\b))re",
        PREFIX UPPER "*" LOWER "+" CONTRACTION "?|" PREFIX UPPER "+" LOWER "*" CONTRACTION
        R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*)re" TAIL}},
      {"granite-embed-multi-97m",
       {R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+)re" CONTRACTION
        R"re(?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*)re" CONTRACTION
        R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*)re" TAIL},
       true},
  };
  return defs;
}

#undef GPT2_RE
#undef LLAMA3_RE
#undef PREFIX
#undef UPPER
#undef LOWER
#undef UPPER_NOT_HAN
#undef LOWER_NOT_HAN
#undef CONTRACTION
#undef TAIL
#undef PORO_RE
#undef CJK_RE
#undef DEEPSEEK_LETTERS

std::vector<std::string> split_names(const char* names) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = names;; ++p) {
    if (*p == ' ' || *p == 0) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      if (*p == 0) return out;
    } else {
      cur.push_back(*p);
    }
  }
}

const std::vector<PreTokenizer>& families() {
  static const std::vector<PreTokenizer> all = [] {
    std::vector<PreTokenizer> v;
    for (const FamilyDef& d : family_defs()) {
      PreTokenizer p = make_pre_tokenizer(d.regexes);
      p.family = split_names(d.names).front();
      p.ignore_merges = d.ignore_merges;
      p.add_bos = d.add_bos;
      p.no_bos = d.no_bos;
      p.raw = d.raw;
      p.newline_tokens = d.newline_tokens;
      p.force_bos = d.force_bos;
      p.keep_spaces = d.keep_spaces;
      v.push_back(std::move(p));
    }
    return v;
  }();
  return all;
}

}  // namespace

PreTokenizer make_pre_tokenizer(const std::vector<std::string>& regexes, bool native) {
  PreTokenizer p;
  p.regexes = regexes;
  for (const std::string& re : regexes) {
    PreStage s;
    if (native && re == kGpt2Re) {
      s.kind = PreStage::kGpt2;
    } else if (native && (re == kLlama3Re || re == kQwen2Re)) {
      s.kind = PreStage::kLlama3;
      s.max_digits = re == kLlama3Re ? 3 : 1;
    } else if (native && re == kThousandsRe) {
      s.kind = PreStage::kThousands;
    } else {
      s.regex = std::make_shared<PreRegex>(re);
    }
    p.stages.push_back(std::move(s));
  }
  return p;
}

std::vector<std::string> pre_tokenizer_names() {
  std::vector<std::string> out;
  for (const FamilyDef& d : family_defs()) out.push_back(d.names);
  return out;
}

const PreTokenizer& pre_tokenizer(const std::string& name) {
  const std::string n = name.empty() ? "default" : name;
  const auto& defs = family_defs();
  for (size_t i = 0; i < defs.size(); ++i)
    for (const std::string& x : split_names(defs[i].names))
      if (x == n) return families()[i];
  std::string known;
  for (const FamilyDef& d : defs) known += cat(known.empty() ? "" : ", ", d.names);
  throw Error(cat("unsupported pre-tokenizer type '", name, "' (tokenizer.ggml.pre); known types: ",
                  known));
}

void pretokenize(const PreTokenizer& pre, std::string_view text, std::vector<Span>& out) {
  if (text.empty()) return;
  thread_local Ctx c;
  c.decode(text);
  std::vector<Piece>& a = c.a;
  std::vector<Piece>& b = c.b;
  a.assign(1, Piece{0, static_cast<uint32_t>(c.cp.size())});
  for (const PreStage& s : pre.stages) {
    b.clear();
    switch (s.kind) {
      case PreStage::kGpt2:
        for (const Piece pc : a) scan_gpt2(c, pc, b);
        break;
      case PreStage::kLlama3:
        for (const Piece pc : a) scan_llama3(c, pc, s.max_digits, b);
        break;
      case PreStage::kThousands:
        split_thousands(c, a, b);
        break;
      case PreStage::kRegex:
        split_regex(*s.regex, c, a, b);
        break;
    }
    a.swap(b);
  }
  out.reserve(out.size() + a.size());
  for (const Piece pc : a) out.push_back({c.off[pc.b], c.off[pc.e]});
}

}  // namespace helix::tok

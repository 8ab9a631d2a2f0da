#!/usr/bin/env python3
"""Generates src/tokenizer/unicode_tables.cpp: compact Unicode tables for the tokenizers.

Run from the repository root:  python3 scripts/gen_unicode_tables.py
The output depends on Python's unicodedata, on the HF_UNICODE_8 list below and, for the general
categories and scripts that pre-tokenizer regexes test, on the Oniguruma inside Hugging Face
`tokenizers` (the reference those regexes run on; its Unicode is newer than Python's: the
versions are recorded in the file).
  python3 scripts/gen_unicode_tables.py --check-hf   writes nothing: compares the BERT classes
  and BERT's single-character normalisation with the installed Hugging Face `tokenizers` for
  every code point and prints the differences (HF_UNICODE_8 entries for any that are missing).

Tables (all sorted by code point):
  kCategoryRuns   one uint32 per run of code points with the same category class (Oniguruma's):
                  (first_code_point << 8) | flags, flags as in unicode.h (kNumber, kLetter, ...).
  kWhitespace     the White_Space property (PropList.txt; Python has no accessor for it, and
                  str.isspace() differs, so the list is spelled out here).
  kLowerRuns      runs {first, count, step, delta}: cp in first + k*step (k < count) lowercases
                  to cp + delta (the first code point of str.lower()).
  kNfdRuns        runs {first, count, target, target_step}: the first code point of the NFD
                  decomposition (Hangul syllables are computed, not tabled).
  kBertRuns       one uint32 per run of code points with the same BERT (WordPiece) classes:
                  (first_code_point << 8) | bits, bits 1 = removed by BERT's clean_text (its
                  _is_control: Cc Cf Co Cs except tab, LF and CR; plus U+0000 and U+FFFD),
                  2 = nonspacing mark (Mn: dropped when stripping accents), 4 = punctuation
                  (ASCII 33-47, 58-64, 91-96, 123-126 and P*). Hugging Face's classes, see
                  HF_UNICODE_8.
  kCombiningRuns  runs {first, count, ccc}: the canonical combining class, where it is not 0, as
                  BERT's NFD has it (HF_NFD_UNICODE_9).
  kSubRuns        one uint32 per run of code points with the same finer classes that some
                  pre-tokenizer regexes name: (first_code_point << 8) | bits, bits 1 = Lu or Lt
                  (\\p{Lu}, \\p{Lt}), 2 = Ll, 4 = Nd (\\d), 8 = the Han script (\\p{Han}); Oniguruma's.
  kWordExtra      {first, last}: code points in Oniguruma's \\w that are not letters, marks,
                  decimal digits or connector punctuation (circled letters, letter numbers, ...).
  kConnectorPunct Pc (connector punctuation: \\w too).
  kNfdBert        {cp, n, {d0, d1, d2}}: BERT's NFD decomposition of cp less its trailing run of
                  nonspacing non-starters (Mn with combining class > 0, which BERT drops and
                  which never move another code point), where that is not just the first code
                  point of the NFD (Indic two-part vowel signs, musical notes; HF_NFD_UNICODE_9).
"""
import os
import sys
import unicodedata

MAX_CP = 0x110000
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "tokenizer",
                   "unicode_tables.cpp")

# Must match the flag bits in src/tokenizer/unicode.h.
UNDEFINED, NUMBER, LETTER, SEPARATOR, MARK, PUNCT, SYMBOL, CONTROL = 1, 2, 4, 8, 16, 32, 64, 128
CAT = {"Cn": UNDEFINED, "Cc": CONTROL, "Cf": CONTROL, "Co": CONTROL, "Cs": CONTROL,
       "Ll": LETTER, "Lm": LETTER, "Lo": LETTER, "Lt": LETTER, "Lu": LETTER,
       "Mc": MARK, "Me": MARK, "Mn": MARK,
       "Nd": NUMBER, "Nl": NUMBER, "No": NUMBER,
       "Pc": PUNCT, "Pd": PUNCT, "Pe": PUNCT, "Pf": PUNCT, "Pi": PUNCT, "Po": PUNCT, "Ps": PUNCT,
       "Sc": SYMBOL, "Sk": SYMBOL, "Sm": SYMBOL, "So": SYMBOL,
       "Zl": SEPARATOR, "Zp": SEPARATOR, "Zs": SEPARATOR}

WHITESPACE = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680] + \
    list(range(0x2000, 0x200B)) + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3

# BERT classes (kBertRuns bits; unicode.h: kBertControl = bit << 9, ...).
BERT_CONTROL, BERT_NONSPACING, BERT_PUNCT = 1, 2, 4

# Hugging Face tokenizers (the BertNormalizer and BertPreTokenizer that BERT models are run with)
# takes the general categories behind these classes from the unicode_categories crate, which has
# Unicode 8.0 data: code points assigned since then are unassigned there (no class: kept as
# letters), and a few changed category. (first, last, bert_bits) ranges where HF's classes differ
# from Python's unicodedata; --check-hf lists any that are missing for another Python version.
# Its NFD (the unicode-normalization-alignments crate) has Unicode 9.0 data: the later marks and
# characters in HF_NFD_UNICODE_9 are starters (combining class 0) that do not decompose there.
HF_UNICODE_8 = [
    (0x061D, 0x061D, 0), (0x07FD, 0x07FD, 0), (0x0890, 0x0891, 0), (0x0898, 0x089F, 0),
    (0x08CA, 0x08E2, 0), (0x09FD, 0x09FE, 0), (0x0A76, 0x0A76, 0), (0x0AFA, 0x0AFF, 0),
    (0x0B55, 0x0B55, 0), (0x0C04, 0x0C04, 0), (0x0C3C, 0x0C3C, 0), (0x0C77, 0x0C77, 0),
    (0x0C84, 0x0C84, 0), (0x0D00, 0x0D00, 0), (0x0D3B, 0x0D3C, 0), (0x0D81, 0x0D81, 0),
    (0x0EBA, 0x0EBA, 0), (0x166D, 0x166D, 4), (0x1734, 0x1734, 2), (0x180F, 0x180F, 0),
    (0x1885, 0x1886, 0), (0x1ABF, 0x1ACE, 0), (0x1B7D, 0x1B7E, 0), (0x1DF6, 0x1DFB, 0),
    (0x2E43, 0x2E4F, 0), (0x2E52, 0x2E5D, 0), (0xA82C, 0xA82C, 0), (0xA8C5, 0xA8C5, 0),
    (0xA8FF, 0xA8FF, 0), (0xA9BD, 0xA9BD, 0), (0x10D24, 0x10D27, 0), (0x10EAB, 0x10EAD, 0),
    (0x10F46, 0x10F50, 0), (0x10F55, 0x10F59, 0), (0x10F82, 0x10F89, 0), (0x11070, 0x11070, 0),
    (0x11073, 0x11074, 0), (0x110C2, 0x110C2, 0), (0x110CD, 0x110CD, 0), (0x111C9, 0x111C9, 4),
    (0x111CF, 0x111CF, 0), (0x1123E, 0x1123E, 0), (0x1133B, 0x1133B, 0), (0x11438, 0x1143F, 0),
    (0x11442, 0x11444, 0), (0x11446, 0x11446, 0), (0x1144B, 0x1144F, 0), (0x1145A, 0x1145B, 0),
    (0x1145D, 0x1145E, 0), (0x11660, 0x1166C, 0), (0x116B9, 0x116B9, 0), (0x1182F, 0x11837, 0),
    (0x11839, 0x1183B, 0), (0x1193B, 0x1193C, 0), (0x1193E, 0x1193E, 0), (0x11943, 0x11946, 0),
    (0x119D4, 0x119D7, 0), (0x119DA, 0x119DB, 0), (0x119E0, 0x119E0, 0), (0x119E2, 0x119E2, 0),
    (0x11A01, 0x11A0A, 0), (0x11A33, 0x11A38, 0), (0x11A3B, 0x11A47, 0), (0x11A51, 0x11A56, 0),
    (0x11A59, 0x11A5B, 0), (0x11A8A, 0x11A96, 0), (0x11A98, 0x11A9C, 0), (0x11A9E, 0x11AA2, 0),
    (0x11C30, 0x11C36, 0), (0x11C38, 0x11C3D, 0), (0x11C3F, 0x11C3F, 0), (0x11C41, 0x11C45, 0),
    (0x11C70, 0x11C71, 0), (0x11C92, 0x11CA7, 0), (0x11CAA, 0x11CB0, 0), (0x11CB2, 0x11CB3, 0),
    (0x11CB5, 0x11CB6, 0), (0x11D31, 0x11D36, 0), (0x11D3A, 0x11D3A, 0), (0x11D3C, 0x11D3D, 0),
    (0x11D3F, 0x11D45, 0), (0x11D47, 0x11D47, 0), (0x11D90, 0x11D91, 0), (0x11D95, 0x11D95, 0),
    (0x11D97, 0x11D97, 0), (0x11EF3, 0x11EF4, 0), (0x11EF7, 0x11EF8, 0), (0x11FFF, 0x11FFF, 0),
    (0x12FF1, 0x12FF2, 0), (0x13430, 0x13438, 0), (0x16E97, 0x16E9A, 0), (0x16F4F, 0x16F4F, 0),
    (0x16FE2, 0x16FE2, 0), (0x16FE4, 0x16FE4, 0), (0x1CF00, 0x1CF2D, 0), (0x1CF30, 0x1CF46, 0),
    (0x1E000, 0x1E006, 0), (0x1E008, 0x1E018, 0), (0x1E01B, 0x1E021, 0), (0x1E023, 0x1E024, 0),
    (0x1E026, 0x1E02A, 0), (0x1E130, 0x1E136, 0), (0x1E2AE, 0x1E2AE, 0), (0x1E2EC, 0x1E2EF, 0),
    (0x1E944, 0x1E94A, 0), (0x1E95E, 0x1E95F, 0),
]
HF_NFD_UNICODE_9 = [
    (0x07FD, 0x07FD), (0x0898, 0x089F), (0x08CA, 0x08D3), (0x09FE, 0x09FE), (0x0C3C, 0x0C3C),
    (0x0D3B, 0x0D3C), (0x0EBA, 0x0EBA), (0x1715, 0x1715), (0x1ABF, 0x1ACE), (0x1DF6, 0x1DFA),
    (0xA82C, 0xA82C), (0x10D24, 0x10D27), (0x10EAB, 0x10EAC), (0x10F46, 0x10F50),
    (0x10F82, 0x10F85), (0x11070, 0x11070), (0x1133B, 0x1133B), (0x1145E, 0x1145E),
    (0x11839, 0x1183A), (0x11938, 0x11938), (0x1193D, 0x1193E), (0x11943, 0x11943),
    (0x119E0, 0x119E0), (0x11A34, 0x11A34), (0x11A47, 0x11A47), (0x11A99, 0x11A99),
    (0x11D42, 0x11D42), (0x11D44, 0x11D45), (0x11D97, 0x11D97), (0x16FF0, 0x16FF1),
    (0x1E130, 0x1E136), (0x1E2AE, 0x1E2AE), (0x1E2EC, 0x1E2EF),
]


SUB_UPPER, SUB_LOWER, SUB_DIGIT, SUB_HAN = 1, 2, 4, 8


def oniguruma_sets(props):
    """{prop: set of code points} for Oniguruma properties such as \\p{L}, as Hugging Face
    `tokenizers` (whose Split regexes run on Oniguruma) has them."""
    from tokenizers import Regex, pre_tokenizers
    cps = [cp for cp in range(MAX_CP) if not 0xD800 <= cp <= 0xDFFF]
    text = "".join(map(chr, cps))
    out = {}
    for prop in props:
        keep = pre_tokenizers.Split(Regex(r"\P{%s}+" % prop), "removed")  # runs of prop
        out[prop] = {cps[i] for _, (b, e) in keep.pre_tokenize_str(text) for i in range(b, e)}
    return out


def onig_classes():
    """(category flags, kSubRuns bits) per code point from Oniguruma's Unicode data (the regex
    engine of Hugging Face `tokenizers`, the reference for pre-tokenizers; its Unicode version is
    newer than Python's): the general category class, Lu/Lt, Ll, Nd and the Han script."""
    sets = oniguruma_sets(["L", "N", "Z", "M", "P", "S", "Cn", "Lu", "Lt", "Ll", "Nd", "Han", "Word",
                           "Pc"])
    cats = [CONTROL] * MAX_CP
    for prop, flag in (("Cn", UNDEFINED), ("L", LETTER), ("N", NUMBER), ("Z", SEPARATOR),
                       ("M", MARK), ("P", PUNCT), ("S", SYMBOL)):
        for cp in sets[prop]:
            cats[cp] = flag
    for cp in range(0xD800, 0xE000):
        cats[cp] = CONTROL  # Cs
    sub = [0] * MAX_CP
    for prop, bit in (("Lu", SUB_UPPER), ("Lt", SUB_UPPER), ("Ll", SUB_LOWER), ("Nd", SUB_DIGIT),
                      ("Han", SUB_HAN)):
        for cp in sets[prop]:
            sub[cp] |= bit
    # \\w beyond letters, marks, decimal digits and connector punctuation (Other_Alphabetic
    # symbols such as circled letters, letter numbers, joiners): ranges for kWordExtra.
    extra = sorted(sets["Word"] - sets["L"] - sets["M"] - sets["Nd"] - sets["Pc"])
    return cats, sub, ranges(extra), sorted(sets["Pc"])


def bert_classes():
    """kBertRuns bits per code point (a list of MAX_CP ints)."""
    bits = [0] * MAX_CP
    for cp in range(MAX_CP):
        cat = unicodedata.category(chr(cp))
        b = 0
        if (cat in ("Cc", "Cf", "Co", "Cs") and cp not in (0x09, 0x0A, 0x0D)) or cp in (0, 0xFFFD):
            b |= BERT_CONTROL
        if cat == "Mn":
            b |= BERT_NONSPACING
        if cat[0] == "P" or 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            b |= BERT_PUNCT
        bits[cp] = b
    for first, last, b in HF_UNICODE_8:
        for cp in range(first, last + 1):
            bits[cp] = b
    return bits


HF_NFD_UNKNOWN = {cp for first, last in HF_NFD_UNICODE_9 for cp in range(first, last + 1)}


def bert_combining(cp):
    """Canonical combining class as BERT's (HF's) NFD has it."""
    return 0 if cp in HF_NFD_UNKNOWN else unicodedata.combining(chr(cp))


def bert_nfd(cp, bits):
    """BERT's NFD of cp less its trailing nonspacing non-starters (see kNfdBert)."""
    d = chr(cp) if cp in HF_NFD_UNKNOWN else unicodedata.normalize("NFD", chr(cp))
    while len(d) > 1 and (bits[ord(d[-1])] & BERT_NONSPACING) and bert_combining(ord(d[-1])):
        d = d[:-1]
    return [ord(c) for c in d]


def value_runs(values):
    """[(first, value)] for each run of equal values."""
    runs = []
    prev = None
    for cp, v in enumerate(values):
        if v != prev:
            runs.append((cp, v))
            prev = v
    return runs


def ranges(cps):
    """Sorted code points -> [(first, last)]."""
    out = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def check_hf(bits):
    """Compares BERT's classes and single-character normalisation with Hugging Face's."""
    from tokenizers import __version__, normalizers, pre_tokenizers
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                       strip_accents=True, lowercase=False)
    full = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                      strip_accents=True, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    nfd = normalizers.NFD()
    ws = set(WHITESPACE)
    want = {}
    norm = []
    unknown = []  # HF_NFD_UNICODE_9: decompositions and combining classes HF's NFD lacks
    for cp in range(MAX_CP):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        b = 0
        if clean.normalize_str(c) == "":
            b |= BERT_CONTROL
        if unicodedata.normalize("NFD", c) == c and strip.normalize_str(c) == "":
            b |= BERT_NONSPACING
        elif unicodedata.normalize("NFD", c) != c:
            b |= bits[cp] & BERT_NONSPACING  # only its decomposition's classes matter
        d = unicodedata.normalize("NFD", c)
        if d != c and nfd.normalize_str(c) != d:
            unknown.append(cp)
        elif d == c and unicodedata.combining(c):
            # A non-starter swaps with U+0334 (class 1) after it, or U+0301 (230) before it
            # (class 1), only where HF's NFD knows its class.
            if any(nfd.normalize_str(x) != unicodedata.normalize("NFD", x)
                   for x in ("a" + c + "\u0334", "a\u0301" + c)):
                unknown.append(cp)
        words = [w for w, _ in pre.pre_tokenize_str("a" + c + "b")]
        if words == ["a", c, "b"]:
            b |= BERT_PUNCT
        if (words == ["a", "b"]) != (cp in ws):
            print("U+%04X: whitespace differs (HF %s)" % (cp, words == ["a", "b"]))
        if b != bits[cp]:
            want.setdefault(b, []).append(cp)
        # One character through the whole normaliser (CJK spacing, NFD, Mn, lowercase).
        if not b & BERT_CONTROL and cp not in ws:
            ours = "".join(chr(x) for x in bert_nfd(cp, bits) if not bits[x] & BERT_NONSPACING)
            ours = "".join(ch.lower() for ch in ours)
            if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or \
               0x2A700 <= cp <= 0x2B81F or 0x2B920 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or \
               0x2F800 <= cp <= 0x2FA1F:
                ours = " " + ours + " "
            theirs = full.normalize_str(c)
            if theirs != ours:
                norm.append("U+%04X %s: HF %s, here %s" % (cp, unicodedata.category(c),
                            " ".join("%04X" % ord(x) for x in theirs) or "-",
                            " ".join("%04X" % ord(x) for x in ours) or "-"))
    print("tokenizers %s, Python unicodedata %s" % (__version__, unicodedata.unidata_version))
    print("single-character normalisation differs for %d code points (characters that are "
          "unassigned in one of the two Unicode versions):" % len(norm))
    for line in norm:
        print("  " + line)
    if set(unknown) != HF_NFD_UNKNOWN:
        print("HF_NFD_UNICODE_9 should be:")
        for first, last in ranges(unknown):
            print("    (0x%04X, 0x%04X)," % (first, last))
    print("class differences, as HF_UNICODE_8 entries (%d):" % sum(len(v) for v in want.values()))
    for b in sorted(want):
        for first, last in ranges(want[b]):
            print("    (0x%04X, 0x%04X, %d)," % (first, last, b))


def pair_runs(pairs):
    """Groups (cp, value) pairs into runs {first, count, step, delta} with constant step/delta."""
    runs = []
    i = 0
    while i < len(pairs):
        cp, v = pairs[i]
        delta = v - cp
        best = (1, 1)  # count, step
        for step in (1, 2):
            n = 1
            while (i + n < len(pairs) and pairs[i + n][0] == cp + n * step
                   and pairs[i + n][1] - pairs[i + n][0] == delta):
                n += 1
            if n > best[0]:
                best = (n, step)
        runs.append((cp, best[0], best[1], delta))
        i += best[0]
    return runs


def nfd_runs(pairs):
    """Groups (cp, target) pairs into runs {first, count, target, target_step (0 or 1)}."""
    runs = []
    i = 0
    while i < len(pairs):
        cp, t = pairs[i]
        best = (1, 0)
        for tstep in (0, 1):
            n = 1
            while (i + n < len(pairs) and pairs[i + n][0] == cp + n
                   and pairs[i + n][1] == t + n * tstep):
                n += 1
            if n > best[0]:
                best = (n, tstep)
        runs.append((cp, best[0], t, best[1]))
        i += best[0]
    return runs


def wrap(items, per_line):
    lines = []
    for i in range(0, len(items), per_line):
        lines.append("    " + " ".join(items[i:i + per_line]))
    return "\n".join(lines)


def main():
    bits = bert_classes()
    if "--check-hf" in sys.argv[1:]:
        check_hf(bits)
        return
    onig_cats, onig_sub, word_extra, pc = onig_classes()
    cats = value_runs(onig_cats)
    lower = []
    nfd = []
    for cp in range(MAX_CP):
        ch = chr(cp)
        lo = ch.lower()
        if lo != ch and ord(lo[0]) != cp:
            lower.append((cp, ord(lo[0])))
        if HANGUL_FIRST <= cp <= HANGUL_LAST:
            continue
        d = unicodedata.normalize("NFD", ch)
        if ord(d[0]) != cp:
            nfd.append((cp, ord(d[0])))
    lruns = pair_runs(lower)
    nruns = nfd_runs(nfd)
    bert = value_runs(bits)
    sub = value_runs(onig_sub)
    ccc = []  # (first, count, class)
    for cp in range(MAX_CP):
        k = bert_combining(cp)
        if k and ccc and ccc[-1][0] + ccc[-1][1] == cp and ccc[-1][2] == k:
            ccc[-1][1] += 1
        elif k:
            ccc.append([cp, 1, k])
    nfd_bert = []
    for cp in range(MAX_CP):
        if HANGUL_FIRST <= cp <= HANGUL_LAST:
            continue
        d = bert_nfd(cp, bits)
        if d != [ord(unicodedata.normalize("NFD", chr(cp))[0])]:
            assert len(d) <= 3, hex(cp)
            nfd_bert.append((cp, len(d), d + [0] * (3 - len(d))))
    # The only lowercase mapping longer than one code point (WordPiece spells it out).
    assert [cp for cp in range(MAX_CP) if len(chr(cp).lower()) > 1] == [0x130]

    out = []
    from tokenizers import __version__ as hf_version
    out.append("// GENERATED by scripts/gen_unicode_tables.py from Python %s unicodedata (Unicode %s);"
               % (sys.version.split()[0], unicodedata.unidata_version))
    out.append("// categories and scripts (kCategoryRuns, kSubRuns) from the Oniguruma of Hugging Face "
               "tokenizers %s." % hf_version)
    out.append("// Do not edit by hand: rerun the script. Layout of each table: see the script's docstring.")
    out.append('#include "tokenizer/unicode.h"')
    out.append("")
    out.append("namespace helix::tok::tables {")
    out.append("")
    out.append("const uint32_t kCategoryRuns[] = {")
    out.append(wrap(["0x%x," % ((cp << 8) | f) for cp, f in cats], 8))
    out.append("};")
    out.append("const size_t kCategoryRunsSize = sizeof(kCategoryRuns) / sizeof(kCategoryRuns[0]);")
    out.append("")
    out.append("const uint32_t kWhitespace[] = {")
    out.append(wrap(["0x%x," % cp for cp in WHITESPACE], 10))
    out.append("};")
    out.append("const size_t kWhitespaceSize = sizeof(kWhitespace) / sizeof(kWhitespace[0]);")
    out.append("")
    out.append("const MapRun kLowerRuns[] = {")
    out.append(wrap(["{0x%x,%d,%d,%d}," % r for r in lruns], 5))
    out.append("};")
    out.append("const size_t kLowerRunsSize = sizeof(kLowerRuns) / sizeof(kLowerRuns[0]);")
    out.append("")
    out.append("const NfdRun kNfdRuns[] = {")
    out.append(wrap(["{0x%x,%d,0x%x,%d}," % r for r in nruns], 5))
    out.append("};")
    out.append("const size_t kNfdRunsSize = sizeof(kNfdRuns) / sizeof(kNfdRuns[0]);")
    out.append("")
    out.append("const uint32_t kBertRuns[] = {")
    out.append(wrap(["0x%x," % ((cp << 8) | b) for cp, b in bert], 8))
    out.append("};")
    out.append("const size_t kBertRunsSize = sizeof(kBertRuns) / sizeof(kBertRuns[0]);")
    out.append("")
    out.append("const uint32_t kSubRuns[] = {")
    out.append(wrap(["0x%x," % ((cp << 8) | b) for cp, b in sub], 8))
    out.append("};")
    out.append("const size_t kSubRunsSize = sizeof(kSubRuns) / sizeof(kSubRuns[0]);")
    out.append("")
    out.append("const uint32_t kWordExtra[][2] = {")
    out.append(wrap(["{0x%x, 0x%x}," % (a, b) for a, b in word_extra], 6))
    out.append("};")
    out.append("const size_t kWordExtraSize = sizeof(kWordExtra) / sizeof(kWordExtra[0]);")
    out.append("const uint32_t kConnectorPunct[] = {")
    out.append(wrap(["0x%x," % cp for cp in pc], 10))
    out.append("};")
    out.append("const size_t kConnectorPunctSize = sizeof(kConnectorPunct) / sizeof(kConnectorPunct[0]);")
    out.append("")
    out.append("const CccRun kCombiningRuns[] = {")
    out.append(wrap(["{0x%x,%d,%d}," % tuple(r) for r in ccc], 6))
    out.append("};")
    out.append("const size_t kCombiningRunsSize = sizeof(kCombiningRuns) / sizeof(kCombiningRuns[0]);")
    out.append("")
    out.append("const NfdSeq kNfdBert[] = {")
    out.append(wrap(["{0x%x,%d,{0x%x,0x%x,0x%x}}," % (cp, n, *d) for cp, n, d in nfd_bert], 3))
    out.append("};")
    out.append("const size_t kNfdBertSize = sizeof(kNfdBert) / sizeof(kNfdBert[0]);")
    out.append("")
    out.append("}  // namespace helix::tok::tables")
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print("wrote %s: %d category runs, %d lowercase runs (%d pairs), %d nfd runs (%d pairs), "
          "%d bert runs, %d sub runs, %d combining runs, %d bert nfd entries"
          % (os.path.normpath(OUT), len(cats), len(lruns), len(lower), len(nruns), len(nfd),
             len(bert), len(sub), len(ccc), len(nfd_bert)))


if __name__ == "__main__":
    main()

// HybriDNA's tokenizer (`tokenizer.ggml.model` = hybriddna): byte-level BPE for text, and between
// "<dna>" and "</dna>" (or the end of the text) the DNA sequence in k-mers of 6 letters, each one
// token: ASCII letters uppercased, the last k-mer padded with 'A', and any k-mer that is not in
// the vocabulary (one with a letter other than A, C, G, T) the <oov> token. The tags give their
// own tokens. The k-mers are the entries after <oov>, stored with the suffix U+E000 so that they
// stay apart from BPE entries of the same text (e.g. CCCCCC); they are looked up with it, and
// their text and piece leave it out. Without the <dna>, </dna> and <oov> entries it is plain BPE.
// As llama.cpp does.
#include <string>
#include <string_view>

#include "tokenizer/vocab.h"

namespace helix::tok {
namespace {

constexpr std::string_view kOpen = "<dna>", kClose = "</dna>", kMarker = "\xee\x80\x80";
constexpr size_t kK = 6;

void emit_kmers(const Vocab& v, std::string_view seq, int32_t oov, std::vector<int32_t>& out) {
  std::string kmer;
  for (size_t i = 0; i < seq.size(); i += kK) {
    kmer.assign(seq.substr(i, kK));
    for (char& c : kmer)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    kmer.append(kK - kmer.size(), 'A');
    kmer += kMarker;
    const int32_t id = v.map.find(kmer);
    out.push_back(id >= 0 ? id : oov);
  }
}

}  // namespace

void prepare_hybriddna(Vocab& v) {
  v.dna_tags = {v.map.find(kOpen), v.map.find(kClose), v.map.find("<oov>")};
  if (v.dna_tags[2] < 0) return;
  for (int32_t id = v.dna_tags[2] + 1; id < v.n_vocab(); ++id) {
    std::string& t = v.text[id];
    if (t.size() <= kMarker.size() || t.compare(t.size() - kMarker.size(), kMarker.size(), kMarker) != 0) continue;
    t.resize(t.size() - kMarker.size());
    v.pieces[id] = make_piece(v, id);
  }
}

void encode_hybriddna(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  const auto [tag_open, tag_close, oov] = v.dna_tags;
  if (tag_open < 0 || tag_close < 0 || oov < 0) {
    encode_bpe(v, text, out);
    return;
  }
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = text.find(kOpen, pos);
    if (start == std::string_view::npos) {
      encode_bpe(v, text.substr(pos), out);
      return;
    }
    if (start > pos) encode_bpe(v, text.substr(pos, start - pos), out);
    out.push_back(tag_open);
    const size_t body = start + kOpen.size();
    const size_t end = text.find(kClose, body);
    emit_kmers(v, text.substr(body, (end == std::string_view::npos ? text.size() : end) - body), oov, out);
    if (end == std::string_view::npos) return;
    out.push_back(tag_close);
    pos = end + kClose.size();
  }
}

}  // namespace helix::tok

// The public tokenizer (see tokenizer.h): reading `tokenizer.ggml.*` from GGUF, dispatch to the
// family's encoder around the special-token partition, pieces and decoding, and the streaming
// decoder that holds back incomplete UTF-8.
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "io/gguf.h"
#include "tokenizer/ugm.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace helix::tok {

VocabSpec vocab_spec_from_gguf(const gguf::GGUFFile& f) {
  VocabSpec s;
  s.model = f.get_string("tokenizer.ggml.model", "");
  HELIX_CHECK(!s.model.empty(), f.path(), ": no tokenizer (tokenizer.ggml.model is missing)");
  s.pre = f.get_string("tokenizer.ggml.pre", "");
  s.name = f.get_string("general.name", "");
  if (s.model == "none" || s.model == "no_vocab") {  // token ids only: <arch>.vocab_size of them
    const std::string key = f.get_string("general.architecture", "") + ".vocab_size";
    if (const gguf::Value* v = f.find(key)) {
      HELIX_CHECK(v->is_integer(), f.path(), ": ", key, " is not an integer");
      s.vocab_size = v->as_int();
    }
    return s;
  }
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  HELIX_CHECK(tokens && tokens->is_array() && tokens->elem_type() == gguf::ValueType::STRING,
              f.path(), ": tokenizer.ggml.tokens is missing or not an array of strings");
  s.tokens = tokens->as_string_array();
  if (const gguf::Value* v = f.find("tokenizer.ggml.scores")) s.scores = v->as_f32_array();
  if (const gguf::Value* v = f.find("tokenizer.ggml.token_type")) {
    for (const int64_t t : v->as_int_array()) s.types.push_back(static_cast<int32_t>(t));
  }
  if (const gguf::Value* v = f.find("tokenizer.ggml.merges")) {
    HELIX_CHECK(v->is_array() && v->elem_type() == gguf::ValueType::STRING, f.path(),
                ": tokenizer.ggml.merges is not an array of strings");
    s.merges = v->as_string_array();
  }
  auto id = [&](const char* key, std::optional<int64_t>& out) {
    if (const gguf::Value* v = f.find(key)) {
      HELIX_CHECK(v->is_integer(), f.path(), ": ", key, " is not an integer");
      out = v->as_int();
    }
  };
  id("tokenizer.ggml.bos_token_id", s.bos);
  id("tokenizer.ggml.eos_token_id", s.eos);
  id("tokenizer.ggml.eot_token_id", s.eot);
  id("tokenizer.ggml.eom_token_id", s.eom);
  id("tokenizer.ggml.unknown_token_id", s.unk);
  id("tokenizer.ggml.seperator_token_id", s.sep);
  id("tokenizer.ggml.padding_token_id", s.pad);
  id("tokenizer.ggml.mask_token_id", s.mask);
  auto flag = [&](const char* key, std::optional<bool>& out) {
    if (const gguf::Value* v = f.find(key)) out = v->as_bool();
  };
  flag("tokenizer.ggml.add_bos_token", s.add_bos);
  flag("tokenizer.ggml.add_eos_token", s.add_eos);
  flag("tokenizer.ggml.add_sep_token", s.add_sep);
  flag("tokenizer.ggml.add_space_prefix", s.add_space_prefix);
  flag("tokenizer.ggml.remove_extra_whitespaces", s.remove_extra_whitespaces);
  if (const gguf::Value* v = f.find("tokenizer.ggml.precompiled_charsmap")) {
    HELIX_CHECK(v->is_array() && (v->elem_type() == gguf::ValueType::UINT8 ||
                                  v->elem_type() == gguf::ValueType::INT8),
                f.path(), ": tokenizer.ggml.precompiled_charsmap is not an array of bytes");
    s.precompiled_charsmap.reserve(v->size());
    for (const gguf::Value& b : v->elems())
      s.precompiled_charsmap.push_back(static_cast<char>(static_cast<uint8_t>(b.as_int())));
  }
  flag("tokenizer.ggml.normalizer.lowercase", s.lowercase);
  flag("tokenizer.ggml.normalizer.strip_accents", s.strip_accents);
  return s;
}

Tokenizer::Tokenizer(std::unique_ptr<Vocab> v) : v_(std::move(v)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_spec(const VocabSpec& spec) {
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::make_unique<Vocab>(build_vocab(spec))));
}

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::GGUFFile& f) {
  try {
    return from_spec(vocab_spec_from_gguf(f));
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(f.path(), 0) == 0) throw;
    throw Error(cat(f.path(), ": ", msg));
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const Vocab& v = *v_;
  HELIX_CHECK(v.type != VocabType::kNone,
              "this model has no vocabulary (tokenizer.ggml.model = none): it cannot tokenize text; "
              "give it token ids instead (e.g. helix logits --tokens)");
  HELIX_CHECK(text.size() < (size_t{1} << 31), "tokenizer: text of ", text.size(),
              " bytes is too long (at most 2 GiB per call)");
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  thread_local std::vector<Fragment> frags;
  partition_specials(v, text, parse_special, frags);
  if (add_special && v.add_bos) out.push_back(v.bos);
  switch (v.type) {
    case VocabType::kSpm: {
      thread_local std::string buf;
      bool prev_special = true;
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        buf.clear();
        if (v.add_space_prefix && prev_special) buf = "\xe2\x96\x81";
        for (const char c : text.substr(f.off, f.len)) {
          if (c == ' ') buf += "\xe2\x96\x81";
          else buf.push_back(c);
        }
        encode_spm(v, buf, out);
        prev_special = false;
      }
      break;
    }
    case VocabType::kBpe:
    case VocabType::kWpm:
    case VocabType::kUgm:
    case VocabType::kRwkv:
    case VocabType::kPlamo2:
    case VocabType::kNone: {  // each raw fragment on its own
      using Encoder = void (*)(const Vocab&, std::string_view, std::vector<int32_t>&);
      const Encoder bpe = v.bpe_mode == BpeMode::kWhitespace  ? encode_whitespace
                          : v.bpe_mode == BpeMode::kHybridDna ? encode_hybriddna
                                                              : encode_bpe;
      const Encoder enc = v.type == VocabType::kBpe      ? bpe
                          : v.type == VocabType::kWpm    ? encode_wpm
                          : v.type == VocabType::kUgm    ? encode_ugm
                          : v.type == VocabType::kPlamo2 ? encode_plamo2
                                                         : encode_rwkv;
      for (const Fragment& f : frags) {
        if (f.token >= 0) out.push_back(f.token);
        else enc(v, text.substr(f.off, f.len), out);
      }
      if (add_special && v.add_sep && v.type == VocabType::kWpm) out.push_back(v.sep);
      break;
    }
  }
  if (add_special && v.add_eos) out.push_back(v.eos);
  return out;
}

namespace {

void check_has_text(const Vocab& v) {
  HELIX_CHECK(v.type != VocabType::kNone,
              "this model has no vocabulary (tokenizer.ggml.model = none): its token ids have no text");
}

}  // namespace

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  check_has_text(*v_);
  HELIX_CHECK(v_->has(id), "token id ", id, " is out of range (vocabulary of ", n_vocab(), ")");
  if (!render_special && (v_->attr[id] & (kAttrControl | kAttrUnknown))) return "";
  return v_->pieces[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
  check_has_text(*v_);
  std::string out;
  bool at_start = true;
  const bool strip = v_->type == VocabType::kWpm ||
                     ((v_->type == VocabType::kSpm || v_->type == VocabType::kUgm) && v_->add_space_prefix);
  // SentencePiece's decoder, when it removes extra whitespace, drops the leading space of every
  // piece until text appears.
  const bool strip_all = v_->type == VocabType::kUgm && v_->ugm->remove_extra_whitespaces;
  for (const int32_t id : ids) {
    const std::string piece = token_to_piece(id, render_special);
    if (piece.empty()) continue;
    if ((strip_all ? out.empty() : at_start && strip) && piece[0] == ' ') out.append(piece, 1, std::string::npos);
    else out += piece;
    at_start = false;
  }
  return out;
}

VocabType Tokenizer::type() const { return v_->type; }
std::string Tokenizer::describe() const {
  if (v_->type == VocabType::kNone) return v_->model + " (no vocabulary: token ids only)";
  if (v_->type == VocabType::kBpe)
    return cat(v_->model, " (pre-tokenizer ", v_->pre_name.empty() ? "default" : v_->pre_name, ")");
  return v_->model;
}
int32_t Tokenizer::n_vocab() const { return v_->n_vocab(); }
int32_t Tokenizer::bos() const { return v_->bos; }
int32_t Tokenizer::eos() const { return v_->eos; }
int32_t Tokenizer::eot() const { return v_->eot; }
int32_t Tokenizer::unk() const { return v_->unk; }
int32_t Tokenizer::sep() const { return v_->sep; }
int32_t Tokenizer::pad() const { return v_->pad; }
bool Tokenizer::add_bos() const { return v_->add_bos; }
bool Tokenizer::add_eos() const { return v_->add_eos; }
bool Tokenizer::add_space_prefix() const { return v_->add_space_prefix; }
bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(v_->eog.begin(), v_->eog.end(), id);
}
bool Tokenizer::is_control(int32_t id) const {
  return v_->has(id) && (v_->attr[id] & (kAttrControl | kAttrUnknown));
}
const std::string& Tokenizer::token_text(int32_t id) const {
  HELIX_CHECK(v_->has(id), "token id ", id, " is out of range (vocabulary of ", n_vocab(), ")");
  return v_->text[id];
}
int32_t Tokenizer::find_token(std::string_view text) const { return v_->map.find(text); }

// ---- StreamDecoder -----------------------------------------------------------------------

namespace {

constexpr const char* kReplacement = "\xef\xbf\xbd";

// Length of the valid UTF-8 sequence starting at s[i] (strict: no overlongs or surrogates);
// 0 if the bytes so far are a valid but incomplete prefix that reaches the end of s; -k if the
// sequence is broken after k bytes (k >= 1 bytes to replace).
int sequence_at(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) return 1;
  int need;
  uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return -1;
  }
  for (int k = 1; k < need; ++k) {
    if (i + k >= s.size()) return 0;
    const auto b = static_cast<uint8_t>(s[i + k]);
    const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xbf);
    if (!ok) return -k;
  }
  return need;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool render_special)
    : tok_(tok), render_special_(render_special) {}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_to_piece(id, render_special_);
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    const int r = sequence_at(pending_, i);
    if (r > 0) {
      out.append(pending_, i, static_cast<size_t>(r));
      i += static_cast<size_t>(r);
    } else if (r == 0) {
      break;  // incomplete: wait for the next token
    } else {
      out += kReplacement;
      i += static_cast<size_t>(-r);
    }
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out;
  if (!pending_.empty()) out = kReplacement;
  pending_.clear();
  return out;
}

void StreamDecoder::reset() { pending_.clear(); }

}  // namespace helix::tok

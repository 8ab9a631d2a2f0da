// Training data: samples rendered with the model's chat template into token ids with a loss
// mask (loss on assistant tokens only), from JSONL conversations or prompt/completion pairs.
// The trainer (src/train) consumes Samples; it does not care which file format they came from.
//
//   train::SampleRenderer r(tokenizer, train::chat_template_for_training(gguf, ""));
//   train::LoadOptions o;  o.seq_len = 512;  o.on_bad_data = train::OnBadData::kSkip;
//   train::LoadResult d = train::load_jsonl("data.jsonl", "instruction", r, o);
//   train::MixStream mix({&d.samples}, {1.0}, seed);                 // one or more sets, by ratio
//   for (auto& row : train::draw_rows(mix, 4, 512)) ...                 // rows of whole samples
//
// One JSONL line is one sample, either a conversation
//   {"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": "..."|null,
//                  "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {...}}}]}],
//    "tools": [...]}                                             (tools: optional, as OpenAI's API)
// or a prompt/completion pair {"prompt": "...", "completion": "...", "system": "..." (optional)}.
// `arguments` may be an object or a JSON string (it is parsed). Other keys (e.g. "meta") are kept
// in Sample::meta for evaluation.
//
// Which tokens carry loss: each assistant turn's rendered text (its content and/or tool calls) and
// the template's end-of-turn token after it, nothing else. The spans are found by rendering the
// conversation prefix by prefix: the assistant turn k starts where render(messages[0..k),
// add_generation_prompt) ends and ends where render(messages[0..k]) ends, less trailing whitespace
// (the newline after <end_of_turn> / <|im_end|>). Prompt text and assistant spans are tokenized as
// separate pieces, so a span begins exactly where generation would begin at inference. A template
// that does not render prefix by prefix (one that rewrites earlier turns) is reported as bad data.
// Tokenizing in pieces equals tokenizing the whole text where a piece boundary sits next to a
// control token or a newline (Gemma, ChatML); Llama 3's "\n\n" before an answer stays one token, as
// in the inference prompt. SentencePiece vocabularies that add a space prefix (Llama 2) get that
// prefix at the start of each piece.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace helix::gguf {
class GGUFFile;
}
namespace helix::tok {
class Tokenizer;
}

namespace helix::train {

struct Sample {
  std::vector<int32_t> tokens;  // the whole rendered sample, BOS included where the model adds one
  std::vector<uint8_t> loss;    // loss[i] = 1: tokens[i] is a target (predicted from tokens[0..i-1])
  std::string type;             // data type it came from ("instruction", "dialogue", "tools", ...)
  std::string file;             // source file and 1-based line, for messages about bad data
  int64_t line = 0;
  nlohmann::ordered_json meta;  // the record's other keys (null if none), e.g. what an eval checks
  // > 0: a preference pair (prefs.h): tokens[0, split) are the chosen sample and tokens[split, n)
  // the rejected one, two samples that a batch keeps together and apart (positions restart).
  int64_t split = 0;
};

// Thrown for one bad record; what() is the reason without file and line.
class BadData : public Error {
 public:
  explicit BadData(const std::string& what) : Error(what) {}
};

// The chat template a training run uses: the text of `override_path` when given (--chat-template),
// else the model's own tokenizer.chat_template, else Gemma's turn format for gemma* models (the
// default model's GGUF carries no template), else Helix's ChatML fallback (runtime::chat_template_for).
std::string chat_template_for_training(const gguf::GGUFFile& model, const std::string& override_path);

// Renders records into Samples with one chat template and tokenizer (thread-safe, const).
class SampleRenderer {
 public:
  SampleRenderer(const tok::Tokenizer& tok, std::string chat_template);
  // Throws BadData (invalid record, unknown role, missing field, empty assistant turn, no
  // assistant turn, template error) naming what is wrong.
  Sample render(const nlohmann::ordered_json& record) const;
  // The conversation of a record (prompt/completion become user/assistant), validated.
  static nlohmann::ordered_json messages_of(const nlohmann::ordered_json& record);
  // Prompt tokens for generation: the messages before the last assistant turn, with the
  // generation prompt (what an evaluation feeds the model), and that last assistant turn's text.
  std::vector<int32_t> prompt_tokens(const nlohmann::ordered_json& record, std::string* reference) const;
  const tok::Tokenizer& tokenizer() const { return tok_; }

 private:
  std::string render_text(const nlohmann::ordered_json& msgs, const nlohmann::ordered_json& tools, bool gen) const;
  void encode_piece(const std::string& text, bool first, std::vector<int32_t>& out) const;
  const tok::Tokenizer& tok_;
  std::string tmpl_, bos_, eos_;
};

enum class OnBadData { kStop, kSkip };
OnBadData parse_on_bad_data(const std::string& s);  // "stop" | "skip"; throws otherwise

struct LoadOptions {
  int64_t seq_len = 0;  // > 0: a sample with more tokens is bad data
  OnBadData on_bad_data = OnBadData::kStop;
  int64_t max_samples = 0;  // > 0: stop after this many good samples
};

struct BadRecord {
  std::string file;
  int64_t line = 0;
  std::string reason;
  std::string message() const;  // "FILE:LINE: reason"
};

struct LoadResult {
  std::vector<Sample> samples;
  std::vector<BadRecord> bad;  // skipped lines (on_bad_data = skip)
  int64_t n_tokens = 0, n_loss_tokens = 0;
};

// Reads a JSONL file (blank lines ignored). With kStop the first bad line throws helix::Error
// "FILE:LINE: reason"; with kSkip it is recorded in `bad` and left out. A missing file throws.
LoadResult load_jsonl(const std::string& path, const std::string& type, const SampleRenderer& r,
                      const LoadOptions& opt);
// The same with another record reader (preference pairs, prefs.h): render(record) makes the Sample
// or throws BadData.
using RecordReader = std::function<Sample(const nlohmann::ordered_json& record)>;
LoadResult load_jsonl(const std::string& path, const std::string& type, const RecordReader& render,
                      const LoadOptions& opt);

// ---- Batches ------------------------------------------------------------------------------
// Samples laid end to end (packed) for the trainer. Position t:
//   tokens[t]   input token
//   targets[t]  the token to predict from t (the sample's next token when that token has loss),
//               or -1: no loss at t (prompt, a sample's last token)
//   pos[t]      position id, restarting at 0 for each sample (RoPE uses it)
//   start[t]    where t's sample starts: t attends to keys [start[t], t] only, so no attention
//               crosses packed samples
struct TrainBatch {
  std::vector<int32_t> tokens, targets, pos, start;
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  int64_t n_targets() const;
};
TrainBatch make_batch(const std::vector<const Sample*>& samples);

// ---- Mixing --------------------------------------------------------------------------------
// Draws samples from several data sets in declared ratios, deterministically from a seed: each
// draw takes the set furthest below its share (ties: the earlier set), and each set is walked in
// a seeded shuffled order that is reshuffled every time it runs out (a new epoch of that set).
class MixStream {
 public:
  MixStream(std::vector<const std::vector<Sample>*> sets, std::vector<double> ratios, uint64_t seed);
  const Sample& next();
  const Sample& peek() const;  // what next() would return, without drawing it
  int64_t position() const { return drawn_; }  // samples drawn so far
  void seek(int64_t n);                         // the state after n draws from the start (resume)
  int64_t epochs_of(size_t set) const { return epoch_[set]; }

 private:
  void reshuffle(size_t s);
  size_t pick() const;  // the set the next draw comes from
  std::vector<const std::vector<Sample>*> sets_;
  std::vector<double> ratios_;
  uint64_t seed_;
  int64_t drawn_ = 0;
  std::vector<int64_t> taken_, epoch_, cursor_;
  std::vector<std::vector<uint32_t>> order_;
};

// Fills up to `rows` rows of seq_len positions with samples drawn from `mix`, first-fit: a sample
// goes into the first row with room, else starts a new row while fewer than `rows` exist; the first
// sample that fits nowhere stays in the mix for the next call (so mix.position() after a call is
// where to resume). Returns each row's samples in order, for make_batch. Throws for a sample
// longer than seq_len.
std::vector<std::vector<const Sample*>> draw_rows(MixStream& mix, int64_t rows, int64_t seq_len);

// A seeded permutation of 0..n-1 (SplitMix64 + Fisher-Yates; the same on every platform).
std::vector<uint32_t> seeded_permutation(size_t n, uint64_t seed);

}  // namespace helix::train

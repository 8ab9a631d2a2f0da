// Training data: the loss mask covers exactly each assistant turn's text and its end-of-turn token
// for Gemma's, Qwen2.5's (ChatML) and Llama 3.1's templates; bad data is reported by file and line.
#include "train/data.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "chat/template.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"
#include "train_data_util.h"

namespace helix::train {
namespace {

using ojson = nlohmann::ordered_json;
using test_util::vocab_with;

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tmpl(const std::string& name) { return read_file(std::string(HELIX_TESTDATA) + "/chat-templates/" + name); }

ojson dialogue() {
  return ojson::parse(R"({"messages": [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Name a colour."},
    {"role": "assistant", "content": "Blue."},
    {"role": "user", "content": "Another one, as a list."},
    {"role": "assistant", "content": "- Red\n- Green"}]})");
}

// The masked tokens, one string per run of consecutive loss tokens.
std::vector<std::string> masked_runs(const tok::Tokenizer& t, const Sample& s) {
  std::vector<std::string> runs;
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    if (!s.loss[i]) continue;
    if (i == 0 || !s.loss[i - 1]) runs.emplace_back();
    runs.back() += t.token_to_piece(s.tokens[i], true);
  }
  return runs;
}

struct Case {
  const char* name;
  std::unique_ptr<tok::Tokenizer> tok;
  std::string tmpl, eot;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  c.push_back({"gemma", vocab_with("llama-spm", {"<bos>", "<start_of_turn>", "<end_of_turn>"}, "<bos>", false),
               tmpl("google-gemma-2-2b-it.jinja"), "<end_of_turn>"});
  c.push_back({"qwen2.5", vocab_with("gpt-2", {"<|im_start|>", "<|im_end|>"}, "", false),
               tmpl("Qwen-Qwen2.5-7B-Instruct.jinja"), "<|im_end|>"});
  c.push_back({"llama3.1",
               vocab_with("gpt-2", {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>", "<|python_tag|>"},
                          "<|begin_of_text|>", false),
               tmpl("meta-llama-Llama-3.1-8B-Instruct.jinja"), "<|eot_id|>"});
  return c;
}

TEST(TrainData, MaskIsExactlyAssistantTextAndEndOfTurn) {
  for (auto& c : cases()) {
    SCOPED_TRACE(c.name);
    ojson d = dialogue();
    if (std::string(c.name) == "gemma") d["messages"].erase(0);  // Gemma 2's template refuses a system turn
    SampleRenderer r(*c.tok, c.tmpl);
    const Sample s = r.render(d);
    ASSERT_EQ(s.tokens.size(), s.loss.size());
    const auto runs = masked_runs(*c.tok, s);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0], "Blue." + c.eot);
    EXPECT_EQ(runs[1], "- Red\n- Green" + c.eot);
    if (c.tok->add_bos()) {
      EXPECT_EQ(s.tokens[0], c.tok->bos());
    }
    // The pieces add up to the template's text (less the newline after the last turn). Where a
    // turn starts after a control token and a newline (Gemma, ChatML) the tokens are those of the
    // whole text; Llama 3's "\n\n" before the answer is one token, as at inference, where the
    // prompt ends there (the whole text's pre-tokenizer would split it "\n" + "\nBlue").
    const std::string bos = c.tok->add_bos() ? c.tok->token_text(c.tok->bos()) : "";
    std::string full = chat::render_chat(c.tmpl, d["messages"], nullptr, false, bos, "");
    while (!full.empty() && full.back() == '\n') full.pop_back();
    auto whole = c.tok->encode(full, false, true);
    if (c.tok->add_bos() && whole[0] != c.tok->bos()) whole.insert(whole.begin(), c.tok->bos());
    std::string dec;
    for (int32_t t : s.tokens) dec += c.tok->token_to_piece(t, true);
    EXPECT_EQ(dec, full);
    if (std::string(c.name) != "llama3.1") EXPECT_EQ(s.tokens, whole);
    else EXPECT_NE(s.tokens, whole);
  }
}

TEST(TrainData, PromptCompletionAndToolCalls) {
  auto cs = cases();
  Case& q = cs[1];
  SampleRenderer r(*q.tok, q.tmpl);
  const Sample pc = r.render(ojson::parse(R"({"prompt": "2+2?", "completion": "4"})"));
  EXPECT_EQ(masked_runs(*q.tok, pc), std::vector<std::string>{"4<|im_end|>"});
  const ojson conv = ojson::parse(R"({"tools": [{"type": "function", "function": {"name": "get_weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "messages": [{"role": "user", "content": "Weather in Oslo?"},
      {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function":
        {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
      {"role": "tool", "content": "{\"temp\": 3}"},
      {"role": "assistant", "content": "It is 3 degrees in Oslo."}], "meta": {"check": "exact"}})");
  const Sample s = r.render(conv);
  const auto runs = masked_runs(*q.tok, s);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0], "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call><|im_end|>");
  EXPECT_EQ(runs[1], "It is 3 degrees in Oslo.<|im_end|>");
  EXPECT_EQ(s.meta["check"], "exact");
  std::string ref;
  auto prompt = r.prompt_tokens(conv, &ref);
  EXPECT_EQ(ref, "It is 3 degrees in Oslo.");
  const std::string ptext = q.tok->decode(prompt, true);
  EXPECT_NE(ptext.find("<tool_response>"), std::string::npos);
  EXPECT_EQ(ptext.substr(ptext.size() - 10), "assistant\n");
}

// The showcase's template (recipes/assistant/chat_template.jinja) is Helix's built-in Gemma format
// plus tools: without tools both render the same bytes, so an adapter trained with it needs no
// other template at inference; with tools the call turn is masked like any answer.
TEST(TrainData, ShowcaseTemplateExtendsBuiltinGemma) {
  const std::string path = ::testing::TempDir() + "helix_train_gemma3_meta.gguf";
  gguf::GGUFWriter w;
  w.set("general.architecture", gguf::Value::string("gemma3"));
  w.write(path);
  const auto f = gguf::GGUFFile::open(path);
  const std::string builtin = chat_template_for_training(f, "");
  const std::string showcase =
      chat_template_for_training(f, std::string(HELIX_SOURCE_DIR) + "/recipes/assistant/chat_template.jinja");
  std::remove(path.c_str());
  EXPECT_NE(builtin, showcase);
  for (bool sys : {false, true}) {
    ojson d = dialogue();
    if (!sys) d["messages"].erase(0);
    for (bool gen : {false, true})
      EXPECT_EQ(chat::render_chat(builtin, d["messages"], nullptr, gen, "<bos>", "<eos>"),
                chat::render_chat(showcase, d["messages"], nullptr, gen, "<bos>", "<eos>"));
  }
  auto tok = vocab_with("llama-spm", {"<bos>", "<start_of_turn>", "<end_of_turn>"}, "<bos>", false);
  SampleRenderer r(*tok, showcase);
  const Sample s = r.render(ojson::parse(R"({"tools": [{"type": "function", "function": {"name": "add",
      "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}}],
    "messages": [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "2+3?"},
      {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}]},
      {"role": "tool", "content": "5"}, {"role": "assistant", "content": "5"}]})"));
  EXPECT_EQ(masked_runs(*tok, s), (std::vector<std::string>{
      "<tool_call>{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}}</tool_call><end_of_turn>", "5<end_of_turn>"}));
  EXPECT_THROW(chat_template_for_training(f, "/nonexistent.jinja"), Error);
}

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    path = ::testing::TempDir() + "helix_train_data_" + std::to_string(reinterpret_cast<uintptr_t>(this)) + ".jsonl";
    std::ofstream(path, std::ios::binary) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

TEST(TrainData, BadDataNamesFileAndLine) {
  auto cs = cases();
  SampleRenderer r(*cs[1].tok, cs[1].tmpl);
  const std::string longtext(4000, 'x');
  TempFile f(std::string(R"({"prompt": "a", "completion": "b"})") + "\n" +           // 1 ok
             "{not json\n" +                                                           // 2
             R"({"messages": [{"role": "bot", "content": "hi"}]})" + "\n" +           // 3
             "\n" +                                                                    // 4 blank
             R"({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]})" + "\n" +  // 5
             R"({"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]})" + "\n" +  // 6
             R"({"prompt": "a", "completion": ")" + longtext + "\"}\n" +               // 7
             R"({"prompt": "a"})" + "\n" +                                             // 8
             R"({"messages": [{"role": "user", "content": "q"}]})" + "\n" +           // 9
             R"({"prompt": "c", "completion": "d"})" + "\n");                          // 10 ok
  LoadOptions o;
  o.seq_len = 256;
  o.on_bad_data = OnBadData::kSkip;
  const LoadResult res = load_jsonl(f.path, "instruction", r, o);
  ASSERT_EQ(res.samples.size(), 2u);
  EXPECT_EQ(res.samples[0].line, 1);
  EXPECT_EQ(res.samples[1].line, 10);
  EXPECT_EQ(res.samples[1].type, "instruction");
  std::vector<int64_t> lines;
  for (const auto& b : res.bad) lines.push_back(b.line);
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 3, 5, 6, 7, 8, 9}));
  EXPECT_NE(res.bad[0].reason.find("invalid JSON"), std::string::npos);
  EXPECT_NE(res.bad[1].reason.find("unknown role 'bot'"), std::string::npos);
  EXPECT_NE(res.bad[2].reason.find("empty assistant turn"), std::string::npos);
  EXPECT_NE(res.bad[3].reason.find("has no 'content'"), std::string::npos);
  EXPECT_NE(res.bad[4].reason.find("longer than the sequence length 256"), std::string::npos);
  EXPECT_NE(res.bad[5].reason.find("'completion'"), std::string::npos);
  EXPECT_NE(res.bad[6].reason.find("no assistant turn"), std::string::npos);
  EXPECT_EQ(res.bad[0].message().rfind(f.path + ":2: ", 0), 0u);

  o.on_bad_data = OnBadData::kStop;
  try {
    load_jsonl(f.path, "instruction", r, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(f.path + ":2: invalid JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_jsonl(f.path + ".missing", "x", r, o), Error);
  EXPECT_EQ(parse_on_bad_data("skip"), OnBadData::kSkip);
  EXPECT_THROW(parse_on_bad_data("ignore"), Error);
}

Sample make(std::vector<int32_t> t, std::vector<uint8_t> l) {
  Sample s;
  s.tokens = std::move(t);
  s.loss = std::move(l);
  return s;
}

TEST(TrainData, BatchesKeepSamplesApart) {
  std::vector<Sample> ss = {make({1, 10, 11, 12}, {0, 0, 1, 1}), make({1, 20, 21, 22, 23, 24}, {0, 0, 0, 1, 1, 1}),
                            make({1, 30, 31}, {0, 1, 1}), make({1, 40}, {0, 1})};
  const TrainBatch b = make_batch({&ss[0], &ss[2], &ss[1], &ss[3]});
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{1, 10, 11, 12, 1, 30, 31, 1, 20, 21, 22, 23, 24, 1, 40}));
  EXPECT_EQ(b.pos, (std::vector<int32_t>{0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 4, 5, 0, 1}));
  EXPECT_EQ(b.start, (std::vector<int32_t>{0, 0, 0, 0, 4, 4, 4, 7, 7, 7, 7, 7, 7, 13, 13}));
  // A sample's last token predicts nothing (the next sample is not its continuation).
  EXPECT_EQ(b.targets, (std::vector<int32_t>{-1, 11, 12, -1, 30, 31, -1, -1, -1, 22, 23, 24, -1, 40, -1}));
  EXPECT_EQ(b.n_targets(), 8);
  Sample bad = make({1, 2, 3}, {0, 1});
  EXPECT_THROW(make_batch({&bad}), Error);
}

TEST(TrainData, MixFollowsRatiosDeterministically) {
  std::vector<Sample> a, b;
  for (int i = 0; i < 7; ++i) a.push_back(make({i}, {1}));
  for (int i = 0; i < 5; ++i) b.push_back(make({100 + i}, {1}));
  MixStream m({&a, &b}, {3.0, 1.0}, 42);
  std::vector<int32_t> seq;
  int na = 0;
  for (int i = 0; i < 400; ++i) {
    const Sample& s = m.next();
    seq.push_back(s.tokens[0]);
    na += s.tokens[0] < 100;
  }
  EXPECT_EQ(na, 300);
  // Within an epoch of a set every sample appears once.
  std::vector<int> seen(7, 0);
  int k = 0;
  for (int32_t t : seq)
    if (t < 100 && k < 7) ++seen[t], ++k;
  EXPECT_EQ(seen, std::vector<int>(7, 1));
  MixStream m2({&a, &b}, {3.0, 1.0}, 42);
  m2.seek(250);
  EXPECT_EQ(m2.next().tokens[0], seq[250]);
  MixStream m3({&a, &b}, {3.0, 1.0}, 43);
  std::vector<int32_t> seq3;
  for (int i = 0; i < 400; ++i) seq3.push_back(m3.next().tokens[0]);
  EXPECT_NE(seq3, seq);
  EXPECT_THROW(MixStream({&a}, {0.0}, 1), Error);
  EXPECT_EQ(seeded_permutation(5, 9), seeded_permutation(5, 9));
}

TEST(TrainData, DrawRowsFillsRowsFromTheMixAndResumes) {
  std::vector<Sample> a, b;
  for (int i = 0; i < 9; ++i) a.push_back(make(std::vector<int32_t>(1 + i % 5, i), std::vector<uint8_t>(1 + i % 5, 1)));
  for (int i = 0; i < 4; ++i) b.push_back(make(std::vector<int32_t>(3, 100 + i), std::vector<uint8_t>(3, 1)));
  MixStream plain({&a, &b}, {2.0, 1.0}, 5), m({&a, &b}, {2.0, 1.0}, 5);
  std::vector<int32_t> expect, got;
  int calls = 0;
  while (m.position() < 60) {
    const auto rows = draw_rows(m, 2, 8);
    ++calls;
    ASSERT_LE(rows.size(), 2u);
    for (const auto& row : rows) {
      size_t used = 0;
      for (const Sample* s : row) used += s->tokens.size();
      EXPECT_LE(used, 8u);
      EXPECT_GT(used, 0u);
    }
    for (const auto& row : rows)
      for (const Sample* s : row) got.push_back(s->tokens[0]);
  }
  ASSERT_EQ(static_cast<int64_t>(got.size()), m.position());
  for (size_t i = 0; i < got.size(); ++i) expect.push_back(plain.next().tokens[0]);
  std::sort(got.begin(), got.end());
  std::sort(expect.begin(), expect.end());
  EXPECT_EQ(got, expect);  // the same draws as the plain stream: none lost or repeated across calls
  EXPECT_GE(calls, 60 * 3 / 16);
  std::vector<Sample> big = {make(std::vector<int32_t>(9, 1), std::vector<uint8_t>(9, 1))};
  MixStream mb({&big}, {1.0}, 1);
  EXPECT_THROW(draw_rows(mb, 1, 8), Error);
}

}  // namespace
}  // namespace helix::train

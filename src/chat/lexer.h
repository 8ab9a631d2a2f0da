// Tokenizer for chat templates, matching Jinja2's lexer as Hugging Face configures it:
// trim_blocks (the newline after a block or comment tag is dropped), lstrip_blocks (spaces
// before a block or comment tag on its own line are dropped), `-` and `+` whitespace control,
// {% raw %}, comments, newline normalization and the single trailing newline removed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace helix::chat {

enum class Tok : uint8_t {
  Data,
  VarBegin,
  VarEnd,
  BlockBegin,
  BlockEnd,
  Name,
  String,
  Int,
  Float,
  Op,
  Eof
};

struct Token {
  Tok type = Tok::Eof;
  int line = 1;
  std::string text;  // data, name, operator, or the decoded string literal
  int64_t ival = 0;
  double fval = 0;
};

// Throws helix::Error ("template line N: ...") for invalid UTF-8, unterminated comments, raw
// blocks or string literals, unbalanced brackets and characters that start no token.
std::vector<Token> tokenize(std::string_view source);

const char* describe(const Token& t);  // "end of print statement", "name", ... for messages

}  // namespace helix::chat

// The terminal side of `helix chat` (and `helix run` on a terminal): line editing with history,
// and model text made safe to show.
#pragma once

#include <string>
#include <string_view>

namespace helix::cli {

// Model text on its way to a terminal. Control characters a model may produce (ESC, which starts
// sequences that move the cursor, recolour the screen or set the window title; BEL, CR, backspace,
// DEL; and the 8-bit C1 controls U+0080..U+009F such as U+009B CSI) are shown in caret notation
// (^[ ^G ^M ^H ^?) or as <U+009B> instead of being written raw; newline and tab pass unchanged.
// Streaming: a piece may end inside a UTF-8 character; the rest arrives with the next piece.
class TerminalSanitizer {
 public:
  std::string push(std::string_view piece);
  std::string finish();  // what is still held (a lone lead byte), made visible

 private:
  std::string held_;  // a trailing 0xC2 byte whose second byte may make a C1 control
};

// Line input for an interactive command: libedit's line editing and history when stdin is a
// terminal (history kept in `history_file` when non-empty), plain line reads otherwise (pipes).
class LineReader {
 public:
  explicit LineReader(std::string history_file);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Reads one line (without its newline); false at the end of input or when a signal (Ctrl-C)
  // interrupted the wait (the caller tells which by its signal flag; reading again works).
  bool read(const char* prompt, std::string& line);
  // Adds a line to the history (and rewrites the history file, mode 0600).
  void remember(const std::string& line);
  bool interactive() const { return tty_; }

 private:
  bool tty_;
  std::string history_file_;
};

// Where `helix chat` keeps its history: $XDG_STATE_HOME/helix/chat_history, else
// ~/.local/state/helix/chat_history (the folder is created); empty when neither can be used.
std::string chat_history_path();

}  // namespace helix::cli

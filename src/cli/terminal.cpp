#include "cli/terminal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <editline/readline.h>

namespace helix::cli {

namespace {

void append_visible(std::string& out, unsigned char c) {
  if (c == 0x7f) {
    out += "^?";
  } else {
    out += '^';
    out += static_cast<char>(c + 64);
  }
}

}  // namespace

std::string TerminalSanitizer::push(std::string_view piece) {
  std::string in = held_;
  in.append(piece);
  held_.clear();
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c == '\n' || c == '\t') {
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      append_visible(out, c);
    } else if (c == 0xC2 && i + 1 == in.size()) {
      held_ = "\xC2";  // wait for the next byte: C2 80..9F is a C1 control
    } else if (c == 0xC2 && static_cast<unsigned char>(in[i + 1]) <= 0x9F &&
               static_cast<unsigned char>(in[i + 1]) >= 0x80) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "<U+%04X>", static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])));
      out += buf;
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string TerminalSanitizer::finish() {
  std::string out = held_;  // a lone 0xC2 is not a control; the terminal shows it as invalid UTF-8
  held_.clear();
  return out;
}

std::string chat_history_path() {
  namespace fs = std::filesystem;
  fs::path dir;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x == '/') {
    dir = fs::path(x) / "helix";
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    dir = fs::path(h) / ".local" / "state" / "helix";
  } else {
    return "";
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "helix chat: no history: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    return "";
  }
  return (dir / "chat_history").string();
}

LineReader::LineReader(std::string history_file) : tty_(isatty(STDIN_FILENO) != 0), history_file_(std::move(history_file)) {
  if (!tty_) return;
  using_history();
  stifle_history(1000);
  if (!history_file_.empty()) read_history(history_file_.c_str());  // a missing file is a first run
}

LineReader::~LineReader() = default;

bool LineReader::read(const char* prompt, std::string& line) {
  if (!tty_) {
    if (std::getline(std::cin, line)) return true;
    if (!std::cin.eof()) std::cin.clear();  // interrupted, not the end: the next read may go on
    return false;
  }
  char* s = readline(prompt);
  if (!s) return false;
  line = s;
  std::free(s);
  return true;
}

void LineReader::remember(const std::string& line) {
  if (!tty_ || line.empty()) return;
  add_history(line.c_str());
  if (history_file_.empty()) return;
  if (write_history(history_file_.c_str()) != 0) {
    std::fprintf(stderr, "helix chat: cannot write the history file %s: %s\n", history_file_.c_str(),
                 std::strerror(errno));
    history_file_.clear();  // say it once
    return;
  }
  ::chmod(history_file_.c_str(), 0600);
}

}  // namespace helix::cli

// helix tokenize [-m MODEL] [--ids] [--no-bos] [--parse-special] (TEXT | -f FILE)
// Tokenizes text with a model's own tokenizer. The text is taken byte for byte (a file's final
// newline is part of it). Prints one token per line as "ID<TAB>PIECE" (the piece with \n, \t,
// \r, \\ and bytes that are not printable UTF-8 escaped), or with --ids only the ids,
// space-separated on one line. --no-bos adds no BOS/EOS; special-token text (e.g. "<bos>") is
// plain text unless --parse-special. With --jsonl, every line of the input is one JSON string
// to tokenize on its own, and each gives one line of ids (for tests over many texts). --stats
// reports the tokenizer type, the token count and the encoding time (not the model load) on
// stderr; the one-token-per-line form also names the tokenizer type there. --decode goes
// the other way: TEXT (or each --jsonl line, a JSON array) holds ids, and their text is printed
// (with --jsonl as one JSON string per line); special tokens are shown with --parse-special.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "core/error.h"
#include "core/files.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace helix::cli {
namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: helix tokenize [-m MODEL] [--ids] [--no-bos] [--parse-special] [--jsonl] [--decode]\n"
               "                      (TEXT | -f FILE)\n"
               "  -m MODEL         GGUF model or tokenizer.json (default: the installed default model)\n"
               "  --ids            print only the token ids, space-separated\n"
               "  --no-bos         do not add BOS/EOS tokens\n"
               "  --parse-special  text that spells a special token (e.g. <bos>) becomes that token\n"
               "  -f FILE          read the text from FILE ('-' for stdin), byte for byte\n"
               "  --jsonl          each input line is a JSON string: print one line of ids per line\n"
               "  --decode         the input is token ids (space-separated, or a JSON array per\n"
               "                   --jsonl line): print their text (--jsonl: a JSON string per line)\n"
               "  --stats          report the tokenizer type, tokens, bytes and encoding seconds (wall\n"
               "                   and CPU) on stderr\n");
}

std::string read_all(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  return read_file(path, "file");
}

// The piece made printable on one line.
std::string escape(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c == '\\') out += "\\\\";
    else if (c >= 0x20 && c < 0x7f) out.push_back(static_cast<char>(c));
    else {
      const size_t n = tok::utf8_len(c);
      if (c >= 0x80 && i + n <= s.size() && tok::is_valid_utf8(std::string_view(s).substr(i, n))) {
        out.append(s, i, n);
        i += n;
        continue;
      }
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
    ++i;
  }
  return out;
}

// --decode: ids to text.
void print_decoded(const tok::Tokenizer& tok, const std::string& input, bool jsonl, bool special) {
  std::string out;
  std::istringstream lines(input);
  size_t n = 0;
  auto ids_of = [&](const std::string& line) {
    std::vector<int32_t> ids;
    try {
      if (jsonl) {
        const nlohmann::json j = nlohmann::json::parse(line);
        if (!j.is_array()) throw std::runtime_error("not an array");
        for (const auto& x : j) ids.push_back(x.get<int32_t>());
        return ids;
      }
      std::istringstream words(line);
      for (std::string w; words >> w;) ids.push_back(static_cast<int32_t>(std::stol(w)));
    } catch (const std::exception& e) {
      throw Error(cat("line ", n, ": not ", jsonl ? "a JSON array of token ids" : "token ids", ": ",
                      e.what()));
    }
    return ids;
  };
  if (!jsonl) {
    ++n;
    out = tok.decode(ids_of(input), special);
  } else {
    for (std::string line; std::getline(lines, line);) {
      ++n;
      if (line.empty()) continue;
      const std::string t = tok.decode(ids_of(line), special);
      out += nlohmann::json(t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      out.push_back('\n');
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  std::string model, file, text;
  bool ids_only = false, no_bos = false, parse_special = false, have_text = false, have_file = false;
  bool jsonl = false, stats = false, decode = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else if (a == "-m" || a == "--model") {
      if (++i >= argc) throw Error("-m needs a model path");
      model = argv[i];
    } else if (a == "--ids") {
      ids_only = true;
    } else if (a == "--stats") {
      stats = true;
    } else if (a == "--jsonl") {
      jsonl = true;
    } else if (a == "--decode") {
      decode = true;
    } else if (a == "--no-bos") {
      no_bos = true;
    } else if (a == "--parse-special") {
      parse_special = true;
    } else if (a == "-f" || a == "--file") {
      if (++i >= argc) throw Error("-f needs a file path");
      file = argv[i];
      have_file = true;
    } else if (!have_text && (a.empty() || a[0] != '-' || a == "-")) {
      text = a;
      have_text = true;
    } else if (a == "--") {
      if (++i >= argc || have_text) throw Error("-- must be followed by exactly one TEXT");
      text = argv[i];
      have_text = true;
    } else {
      usage(stderr);
      throw Error(cat("unexpected argument '", a, "'"));
    }
  }
  if (have_text == have_file) {
    usage(stderr);
    throw Error("give either TEXT or -f FILE");
  }
  if (have_file) text = read_all(file);

  const std::string path = resolve_model_path(model);
  std::unique_ptr<tok::Tokenizer> tok;
  if (path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    tok = tok::Tokenizer::from_hf_json_file(path);  // a Hugging Face tokenizer.json
  } else {
    tok = tok::Tokenizer::from_gguf(gguf::GGUFFile::open(path));
  }
  if (stats || (!jsonl && !ids_only && !decode)) std::fprintf(stderr, "tokenizer: %s\n", tok->describe().c_str());
  std::string out;
  if (decode) {
    print_decoded(*tok, text, jsonl, parse_special);
    return 0;
  }
  if (jsonl) {
    std::istringstream lines(text);
    size_t n = 0, n_tokens = 0, n_bytes = 0;
    double secs = 0, cpu = 0;
    for (std::string line; std::getline(lines, line);) {
      ++n;
      if (line.empty()) continue;
      std::string t;
      try {
        t = nlohmann::json::parse(line).get<std::string>();
      } catch (const std::exception& e) {
        throw Error(cat("line ", n, ": not a JSON string: ", e.what()));
      }
      const auto t0 = std::chrono::steady_clock::now();
      const std::clock_t c0 = std::clock();
      const std::vector<int32_t> ids = tok->encode(t, !no_bos, parse_special);
      cpu += static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
      secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      n_tokens += ids.size();
      n_bytes += t.size();
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) out.push_back(' ');
        out += std::to_string(ids[i]);
      }
      out.push_back('\n');
    }
    if (stats)
      std::fprintf(stderr, "tokens %zu bytes %zu encode_seconds %.6f encode_cpu_seconds %.6f\n", n_tokens, n_bytes,
                   secs, cpu);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  const std::vector<int32_t> ids = tok->encode(text, !no_bos, parse_special);
  const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (stats)
    std::fprintf(stderr, "tokens %zu bytes %zu encode_seconds %.6f encode_cpu_seconds %.6f\n", ids.size(),
                 text.size(), secs, cpu);
  if (ids_only) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out.push_back(' ');
      out += std::to_string(ids[i]);
    }
    out.push_back('\n');
  } else {
    for (const int32_t id : ids) out += cat(id, '\t', escape(tok->token_to_piece(id, true)), '\n');
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace helix::cli

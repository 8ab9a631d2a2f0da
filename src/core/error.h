// Errors in Helix are values the caller can report: an exception that carries a message saying
// what was wrong and, where it helps, what to do about it. Library code never calls exit().
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace helix {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// cat("a", 1, 'b') == "a1b": the one string builder used for messages (GCC 12 lacks <format>).
template <typename... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

}  // namespace helix

// HELIX_CHECK(cond, parts...): throw helix::Error built from parts when cond is false.
#define HELIX_CHECK(cond, ...)                       \
  do {                                               \
    if (!(cond)) throw ::helix::Error(::helix::cat(__VA_ARGS__)); \
  } while (0)

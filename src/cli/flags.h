// A small declarative parser for a command's flags: each flag names the variable it fills and
// the range its value must lie in (int_flag / float_flag of gen_options.h check it), so a
// command lists its flags once instead of hand-writing an argv loop.
//
//   Flags f("helix sft", kUsage);
//   f.value({"--data"}, data).integer({"--steps"}, steps, 1, 1'000'000).flag({"--full"}, full);
//   if (!f.parse(argc, argv)) return 0;   // --help printed the usage
//   f.positional()                          // the arguments that are not flags
//
// Unknown flags, a missing value and values out of range throw helix::Error naming the flag;
// "--" ends the flags (the rest are positional).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

namespace helix::cli {

class Flags {
 public:
  Flags(std::string command, std::string usage) : command_(std::move(command)), usage_(std::move(usage)) {}

  Flags& value(std::initializer_list<const char*> names, std::string& out);           // a string
  Flags& values(std::initializer_list<const char*> names, std::vector<std::string>& out);  // repeatable
  Flags& list(std::initializer_list<const char*> names, std::vector<std::string>& out);    // "a,b,c"
  Flags& integer(std::initializer_list<const char*> names, int64_t& out, int64_t lo,
                 int64_t hi = std::numeric_limits<int64_t>::max());
  Flags& number(std::initializer_list<const char*> names, double& out, double lo,
                double hi = std::numeric_limits<double>::infinity(), bool lo_exclusive = false);
  Flags& flag(std::initializer_list<const char*> names, bool& out);  // no value: sets true
  // Any other handling of a flag's value (called with the flag as written and its value).
  Flags& custom(std::initializer_list<const char*> names, std::function<void(const std::string&, const std::string&)> fn);

  // Parses argv[1..argc); returns false after printing the usage for -h/--help.
  bool parse(int argc, char** argv);
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  struct Spec {
    std::vector<std::string> names;
    bool takes_value = true;
    std::function<void(const std::string&, const std::string&)> apply;
  };
  Flags& add(std::initializer_list<const char*> names, bool takes_value,
             std::function<void(const std::string&, const std::string&)> fn);
  const Spec* find(const std::string& name) const;

  std::string command_, usage_;
  std::vector<Spec> specs_;
  std::vector<std::string> positional_;
};

}  // namespace helix::cli

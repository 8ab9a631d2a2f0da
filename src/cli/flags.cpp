#include "cli/flags.h"

#include <cstdio>
#include <sstream>

#include "cli/gen_options.h"
#include "core/error.h"

namespace helix::cli {

Flags& Flags::add(std::initializer_list<const char*> names, bool takes_value,
                  std::function<void(const std::string&, const std::string&)> fn) {
  Spec s;
  for (const char* n : names) s.names.emplace_back(n);
  s.takes_value = takes_value;
  s.apply = std::move(fn);
  specs_.push_back(std::move(s));
  return *this;
}

Flags& Flags::value(std::initializer_list<const char*> names, std::string& out) {
  return add(names, true, [&out](const std::string&, const std::string& v) { out = v; });
}

Flags& Flags::values(std::initializer_list<const char*> names, std::vector<std::string>& out) {
  return add(names, true, [&out](const std::string&, const std::string& v) { out.push_back(v); });
}

Flags& Flags::list(std::initializer_list<const char*> names, std::vector<std::string>& out) {
  return add(names, true, [&out](const std::string&, const std::string& v) {
    out.clear();
    std::stringstream ss(v);
    for (std::string p; std::getline(ss, p, ',');)
      if (!p.empty()) out.push_back(p);
  });
}

Flags& Flags::integer(std::initializer_list<const char*> names, int64_t& out, int64_t lo, int64_t hi) {
  return add(names, true, [&out, lo, hi](const std::string& f, const std::string& v) { out = int_flag(f, v, lo, hi); });
}

Flags& Flags::number(std::initializer_list<const char*> names, double& out, double lo, double hi, bool lo_exclusive) {
  return add(names, true, [&out, lo, hi, lo_exclusive](const std::string& f, const std::string& v) {
    out = float_flag(f, v, lo, hi, lo_exclusive);
  });
}

Flags& Flags::flag(std::initializer_list<const char*> names, bool& out) {
  return add(names, false, [&out](const std::string&, const std::string&) { out = true; });
}

Flags& Flags::custom(std::initializer_list<const char*> names,
                     std::function<void(const std::string&, const std::string&)> fn) {
  return add(names, true, std::move(fn));
}

const Flags::Spec* Flags::find(const std::string& name) const {
  for (const Spec& s : specs_)
    for (const std::string& n : s.names)
      if (n == name) return &s;
  return nullptr;
}

bool Flags::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(usage_.c_str(), stdout);
      return false;
    }
    if (a == "--") {
      for (++i; i < argc; ++i) positional_.emplace_back(argv[i]);
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      positional_.push_back(a);
      continue;
    }
    const Spec* s = find(a);
    if (!s) throw Error(cat("unknown option '", a, "' for ", command_, "; see ", command_, " --help"));
    std::string v;
    if (s->takes_value) {
      HELIX_CHECK(i + 1 < argc, "option ", a, " needs a value; see ", command_, " --help");
      v = argv[++i];
    }
    s->apply(a, v);
  }
  return true;
}

}  // namespace helix::cli

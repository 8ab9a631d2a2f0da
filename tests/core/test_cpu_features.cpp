// cpu_features() against the kernel's own CPU flags (/proc/cpuinfo), and the two environment
// switches: HELIX_NO_VNNI turns off the VNNI flags alone, HELIX_FORCE_SCALAR everything.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "core/cpu_features.h"

namespace helix {
namespace {

std::set<std::string> proc_cpu_flags() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> out;
    for (std::string w; words >> w;) out.insert(w);
    return out;
  }
  return {};
}

// Sets an environment variable for one scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v, had_ = true;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_) ::setenv(name_, old_.c_str(), 1);
    else ::unsetenv(name_);
  }
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(CpuFeatures, MatchTheKernelsFlags) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "x86-64 only";
#endif
  const auto flags = proc_cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags";
  ScopedEnv a("HELIX_FORCE_SCALAR", nullptr), b("HELIX_NO_VNNI", nullptr);
  const CpuFeatures c = detect_cpu_features();
  EXPECT_EQ(c.avx2, flags.count("avx2") == 1);
  EXPECT_EQ(c.fma, flags.count("fma") == 1);
  EXPECT_EQ(c.f16c, flags.count("f16c") == 1);
  EXPECT_EQ(c.avx512f, flags.count("avx512f") == 1);
  EXPECT_EQ(c.avx_vnni, flags.count("avx_vnni") == 1);
  EXPECT_EQ(c.avx512_vnni, flags.count("avx512_vnni") == 1);
}

TEST(CpuFeatures, EnvironmentSwitches) {
  ScopedEnv a("HELIX_FORCE_SCALAR", nullptr), b("HELIX_NO_VNNI", "1");
  const CpuFeatures all = [] {
    ScopedEnv c("HELIX_NO_VNNI", nullptr);
    return detect_cpu_features();
  }();
  const CpuFeatures no_vnni = detect_cpu_features();
  EXPECT_FALSE(no_vnni.avx_vnni);
  EXPECT_FALSE(no_vnni.avx512_vnni);
  EXPECT_EQ(no_vnni.avx2, all.avx2);
  EXPECT_EQ(no_vnni.avx512f, all.avx512f);
  {
    ScopedEnv zero("HELIX_NO_VNNI", "0");  // "0" means off, as for HELIX_FORCE_SCALAR
    EXPECT_EQ(detect_cpu_features().avx_vnni, all.avx_vnni);
  }
  ScopedEnv scalar("HELIX_FORCE_SCALAR", "1");
  const CpuFeatures none = detect_cpu_features();
  EXPECT_FALSE(none.avx2 || none.fma || none.f16c || none.avx512f || none.avx_vnni || none.avx512_vnni);
}

}  // namespace
}  // namespace helix

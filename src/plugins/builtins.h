// The built-in plugins Helix runs in-process: "calculator" (calculator.h), "datetime" (time zones
// from the system's tzdata through Howard Hinnant's date library) and "kb" (search a knowledge
// base made with `helix kb`; the `kb` argument names it).
#pragma once

#include <memory>
#include <string>

#include "plugins/plugin.h"

namespace helix::plugins {

std::unique_ptr<Executor> make_builtin(const std::string& name, const Context& ctx);

// The datetime tools, callable directly (tests): ISO 8601 in, ISO 8601 out. `now` is the current
// UTC time in seconds since the epoch (HELIX_NOW overrides the clock, for tests).
ojson current_time(const std::string& timezone);
ojson convert_time(const std::string& time, const std::string& from_tz, const std::string& to_tz);
ojson days_between(const std::string& start, const std::string& end);

}  // namespace helix::plugins

// Built-in plugins: calculator, datetime, kb (see builtins.h).
#include "plugins/builtins.h"

#include <date/date.h>
#include <date/tz.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <regex>

#include "core/error.h"
#include "knowledge/service.h"
#include "plugins/calculator.h"
#include "plugins/python_tool.h"
#include "plugins/chatfile_tool.h"

namespace helix::plugins {
namespace {

using namespace std::chrono;

std::string arg_string(const ojson& args, const std::string& key, bool required = true) {
  auto it = args.find(key);
  if (it == args.end() || it->is_null()) {
    HELIX_CHECK(!required, "the argument '", key, "' is missing");
    return "";
  }
  HELIX_CHECK(it->is_string(), "the argument '", key, "' must be a string");
  return it->get<std::string>();
}

// The city part of a zone name, as tzdata spells it: "Europe/New York (UTC)" -> "new_york".
std::string city_key(std::string s) {
  if (const size_t p = s.find('('); p != std::string::npos) s.erase(p);
  if (const size_t p = s.rfind('/'); p != std::string::npos) s.erase(0, p + 1);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  for (char& c : s) c = c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A zone by its IANA name. Models also write a zone by its city, with the wrong region or with words
// from the parameter's description ("Europe/Tokyo (UTC)", "new york"): a name that is not found is
// then read as a city, and taken when exactly one zone of the database has it (the result names the
// zone used).
const date::time_zone* zone(const std::string& name) {
  try {
    return date::locate_zone(name.empty() ? "UTC" : name);
  } catch (const std::exception&) {
  }
  const std::string city = city_key(name);
  const date::time_zone* found = nullptr;
  int matches = 0;
  for (const auto& z : date::get_tzdb().zones)
    if (!city.empty() && city_key(std::string(z.name())) == city) found = &z, ++matches;
  if (matches == 1) return found;
  throw Error(cat("unknown time zone '", name, "': use an IANA name such as Europe/Paris, America/New_York or UTC"));
}

sys_seconds now() {
  if (const char* n = std::getenv("HELIX_NOW"); n && *n) return sys_seconds(seconds(std::stoll(n)));
  return floor<seconds>(system_clock::now());
}

ojson describe(const date::zoned_seconds& z) {
  const auto info = z.get_info();
  const auto local = z.get_local_time();
  const auto day = date::floor<date::days>(local);
  std::ostringstream iso, utc;
  const auto off = duration_cast<minutes>(info.offset).count();
  iso << date::format("%FT%T", local) << (off < 0 ? '-' : '+');
  iso << std::setw(2) << std::setfill('0') << std::abs(off) / 60 << ':' << std::setw(2) << std::abs(off) % 60;
  utc << date::format("%FT%TZ", z.get_sys_time());
  return {{"timezone", z.get_time_zone()->name()},
          {"local_time", iso.str()},
          {"utc_time", utc.str()},
          {"weekday", date::format("%A", date::weekday(day))},
          {"utc_offset_minutes", off},
          {"abbreviation", info.abbrev},
          {"daylight_saving", info.save != minutes(0)}};
}

// "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" (local), optionally with "Z" or "+HH:MM" (an instant).
// Matched here rather than by date::parse, whose failed attempts at a format overflow a duration
// internally (UBSan: signed overflow in chrono's floor).
bool parse_time(const std::string& s, date::local_seconds& local, std::optional<sys_seconds>& instant) {
  static const std::regex re(R"(^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?)?$)");
  std::smatch m;
  if (!std::regex_match(s, m, re)) return false;
  auto num = [&](int i) { return m[i].matched ? std::stoi(m[i].str()) : 0; };
  const date::year_month_day ymd{date::year{num(1)}, date::month{static_cast<unsigned>(num(2))},
                                 date::day{static_cast<unsigned>(num(3))}};
  if (!ymd.ok() || num(4) > 23 || num(5) > 59 || num(6) > 59) return false;
  local = date::local_seconds{date::local_days{ymd}.time_since_epoch()} + std::chrono::hours(num(4)) +
          minutes(num(5)) + std::chrono::seconds(num(6));
  if (!m[7].matched) return true;
  const std::string z = m[7].str();
  minutes offset{0};
  if (z != "Z") {
    const std::string digits = z.substr(1, 2) + z.substr(z.size() - 2);
    offset = std::chrono::hours(std::stoi(digits.substr(0, 2))) + minutes(std::stoi(digits.substr(2)));
    if (z[0] == '-') offset = -offset;
  }
  instant = sys_seconds{local.time_since_epoch()} - offset;
  return true;
}

class Calculator : public Executor {
 public:
  std::vector<ToolSpec> tools() override {
    return {{"calculate",
             "Evaluate an arithmetic expression exactly (rational arithmetic, no rounding): + - * / % ^, "
             "parentheses, abs floor ceil round min max gcd lcm sqrt. Use it for any arithmetic.",
             {{"type", "object"},
              {"properties", {{"expression", {{"type", "string"}, {"description", "for example (0.1 + 0.2) * 3"}}}}},
              {"required", {"expression"}}}}};
  }
  ToolResult call(const std::string& tool, const ojson& args) override {
    HELIX_CHECK(tool == "calculate", "the calculator has no tool '", tool, "'");
    const std::string e = arg_string(args, "expression");
    CalcResult r = calculate(e);
    ojson out = {{"expression", e}, {"result", r.value}, {"exact", true}};
    if (!r.terminating) out["decimal_approximation"] = r.approx;
    return {true, out.dump()};
  }
};

class DateTime : public Executor {
 public:
  std::vector<ToolSpec> tools() override {
    const ojson tz = {{"type", "string"}, {"description", "IANA time zone, e.g. Europe/Paris (default UTC)"}};
    return {{"current_time", "The current date, time and weekday in a time zone.",
             {{"type", "object"}, {"properties", {{"timezone", tz}}}}},
            {"convert_time", "Convert a date and time (ISO 8601) from one time zone to another.",
             {{"type", "object"},
              {"properties", {{"time", {{"type", "string"}, {"description", "e.g. 2026-03-29T09:30"}}},
                              {"from_timezone", tz}, {"to_timezone", tz}}},
              {"required", {"time", "to_timezone"}}}},
            {"days_between", "The number of days from one date to another (YYYY-MM-DD).",
             {{"type", "object"},
              {"properties", {{"start", {{"type", "string"}}}, {"end", {{"type", "string"}}}}},
              {"required", {"start", "end"}}}}};
  }
  ToolResult call(const std::string& tool, const ojson& args) override {
    if (tool == "current_time") return {true, current_time(arg_string(args, "timezone", false)).dump()};
    if (tool == "convert_time")
      return {true, convert_time(arg_string(args, "time"), arg_string(args, "from_timezone", false),
                                 arg_string(args, "to_timezone")).dump()};
    if (tool == "days_between") return {true, days_between(arg_string(args, "start"), arg_string(args, "end")).dump()};
    throw Error(cat("the datetime plugin has no tool '", tool, "'"));
  }
};

class KbSearch : public Executor {
 public:
  // The bases stay open between calls (knowledge/service.h).
  explicit KbSearch(const Context& ctx)
      : ctx_(ctx), bases_(ctx.bases ? ctx.bases : std::make_shared<knowledge::KnowledgeBases>(ctx.kb_dir, nullptr)) {}
  std::vector<ToolSpec> tools() override {
    return {{"search_knowledge_base",
             "Search a knowledge base for passages relevant to a question; cite the document names it returns.",
             {{"type", "object"},
              {"properties", {{"kb", {{"type", "string"}, {"description", "the knowledge base's name"}}},
                              {"query", {{"type", "string"}}},
                              {"k", {{"type", "integer"}, {"minimum", 1}, {"maximum", 20}}}}},
              {"required", {"kb", "query"}}}}};
  }
  ToolResult call(const std::string& tool, const ojson& args) override {
    HELIX_CHECK(tool == "search_knowledge_base", "the kb plugin has no tool '", tool, "'");
    knowledge::SearchRequest r;
    r.kb = arg_string(args, "kb");
    r.query = arg_string(args, "query");
    r.k = 4;
    if (auto k = args.find("k"); k != args.end()) {
      HELIX_CHECK(k->is_number_integer() && *k >= 1 && *k <= 20, "the argument 'k' must be an integer from 1 to 20");
      r.k = k->get<size_t>();
    }
    HELIX_CHECK(!r.kb.empty(), "the argument 'kb' must name a knowledge base");
    r.use_encoder = bases_->encoder() != nullptr;  // the hybrid when the bases have an encoder
    // In the server the sentence encoder runs between the engine's decode steps, as /v1/kb's does.
    const knowledge::EncoderRunner run = ctx_.docs ? ctx_.docs->between_steps : knowledge::EncoderRunner{};
    ojson hits = ojson::array();
    for (const auto& h : knowledge::search(*bases_, r, run).hits) {
      ojson j = {{"doc", h.doc}, {"text", h.text}, {"score", h.score}};
      if (!h.section.empty()) j["section"] = h.section;
      if (h.page > 0) j["page"] = h.page;
      hits.push_back(j);
    }
    return {true, ojson{{"kb", r.kb}, {"query", r.query}, {"passages", hits}}.dump()};
  }

 private:
  Context ctx_;
  std::shared_ptr<knowledge::KnowledgeBases> bases_;
};

}  // namespace

ojson current_time(const std::string& timezone) { return describe(date::zoned_seconds(zone(timezone), now())); }

ojson convert_time(const std::string& time, const std::string& from_tz, const std::string& to_tz) {
  date::local_seconds local{};
  std::optional<sys_seconds> instant;
  HELIX_CHECK(parse_time(time, local, instant), "cannot read the time '", time,
              "': use ISO 8601, e.g. 2026-03-29T09:30 or 2026-03-29T09:30:00+02:00");
  const date::time_zone* to = zone(to_tz);
  if (instant) return describe(date::zoned_seconds(to, *instant));
  const date::time_zone* from = zone(from_tz);
  const auto info = from->get_info(local);
  HELIX_CHECK(info.result != date::local_info::nonexistent, "the time ", time, " does not exist in ", from->name(),
              " (the clocks skip it when daylight saving time starts)");
  // An ambiguous local time (clocks turned back) is read as the earlier of the two instants.
  const sys_seconds t = from->to_sys(local, date::choose::earliest);
  ojson out = describe(date::zoned_seconds(to, t));
  out["from"] = describe(date::zoned_seconds(from, t));
  if (info.result == date::local_info::ambiguous) out["note"] = "ambiguous local time: the earlier instant was used";
  return out;
}

ojson days_between(const std::string& start, const std::string& end) {
  auto day = [](const std::string& s) {
    date::local_seconds t;
    std::optional<sys_seconds> instant;
    HELIX_CHECK(s.size() == 10 && parse_time(s, t, instant), "cannot read the date '", s, "': use YYYY-MM-DD");
    return date::floor<date::days>(t);
  };
  return {{"start", start}, {"end", end}, {"days", (day(end) - day(start)).count()}};
}

std::unique_ptr<Executor> make_builtin(const std::string& name, const Context& ctx) {
  if (name == "calculator") return std::make_unique<Calculator>();
  if (name == "datetime") return std::make_unique<DateTime>();
  if (name == "kb") return std::make_unique<KbSearch>(ctx);
  if (name == "python") return make_python_plugin();  // python_tool.h: off until enabled
  if (name == "chatfile") return make_chatfile_builtin(ctx);
  throw Error(cat("'", name, "' is not a built-in plugin"));
}

}  // namespace helix::plugins

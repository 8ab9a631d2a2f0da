// Helpers shared by the grammar tests: compile a schema from text, run the matcher over a text.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "grammar/grammar.h"
#include "grammar/matcher.h"

namespace helix::grammar::testing {

inline std::shared_ptr<const Grammar> compile(std::string_view schema) { return Grammar::from_json_schema_text(schema); }

// Whether `text` is a complete value of the grammar.
inline bool accepts(const Grammar& g, std::string_view text) {
  Matcher m(g);
  State s = m.start();
  return m.advance(s, text) && m.complete(s);
}

// Whether `text` can still be continued into (or already is) a value of the grammar.
inline bool alive(const Grammar& g, std::string_view text) {
  Matcher m(g);
  State s = m.start();
  return m.advance(s, text);
}

}  // namespace helix::grammar::testing

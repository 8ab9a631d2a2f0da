// Helpers for the chat-template unit tests: render a template string with a JSON context, and
// capture the error text of a template that must fail.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chat/template.h"
#include "core/error.h"

namespace helix::chat::test {

using Json = nlohmann::ordered_json;

inline std::string render(const std::string& src, const Json& ctx = Json::object()) {
  return ChatTemplate::parse(src).render(ctx);
}

// The message of the helix::Error that parsing or rendering throws; "" if none is thrown.
inline std::string error_of(const std::string& src, const Json& ctx = Json::object(),
                            const Limits& limits = Limits{}) {
  try {
    ChatTemplate::parse(src).render(ctx, limits);
  } catch (const helix::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace helix::chat::test

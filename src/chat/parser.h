// Parser for chat templates: Jinja2's grammar (statements for, if, set, macro, call, filter,
// with, block, raw, break/continue; the full expression language with Jinja's precedence),
// producing the tree in ast.h. Errors name the template line, like Jinja's
// TemplateSyntaxError; an unknown filter or test is an error at parse time too, except inside
// an `if` or inline-if where Jinja defers it to when the expression runs.
#pragma once

#include <memory>
#include <string_view>

#include "chat/ast.h"

namespace helix::chat {

std::shared_ptr<const Program> parse_program(std::string_view source);

}  // namespace helix::chat

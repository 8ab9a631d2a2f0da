// Chat messages as an OpenAI request gives them, made into what a chat template can render.
//
// Checked (400 naming the message): roles are system, developer, user, assistant or tool
// (developer is rendered as system, as OpenAI defines it); content is a string, null, or an
// array of parts of type "text" (a model that reads only text refuses image_url, input_audio,
// file ... parts instead of dropping them); tool_calls is an array of function calls.
// Normalised: text parts are joined into one string ("\n" between them, as llama.cpp joins them
// for templates that take strings).
//
// Rendering (render_chat_messages) adapts the conversation as llama.cpp does for templates that
// cannot take it as given: a template that does not show tool calls and tool results (it raises
// for them, or drops them) gets the calls written into the assistant's content as JSON and the
// results as user turns; a template that fails on null content gets "" instead. A template that
// still refuses (e.g. a system message a model does not know) gives its own message in the 400.
#pragma once

#include <string>

#include "server/api_json.h"

namespace helix::server {

// The request's "messages", checked and normalised (throws ApiError).
ojson chat_messages(const ojson& body);

// The prompt text for checked messages (see above); throws ApiError 400 when no form renders.
std::string render_chat_messages(const std::string& tmpl, const ojson& messages, const ojson& tools,
                                 const std::string& bos, const std::string& eos);

}  // namespace helix::server

// OpenAPI plugins: the operations of an OpenAPI 3 document (JSON, from a file or a URL) become
// tools. Each operation's tool is named by its operationId (else METHOD_path), described by its
// summary and description, and takes one object whose properties are the path, query and header
// parameters (their schemas, $refs resolved) plus "body" for a JSON request body.
//
// Calls go over HTTP to the document's first server URL (a relative one is resolved against
// the document's URL), only to allowed hosts (permissions.hosts plus the host the document came
// from; for a local file, the host of its server URL), with
// the manifest's auth, timeout and response size limit. A 4xx/5xx answer is a tool error whose
// text gives the status and body; the key is never part of any text returned.
#pragma once

#include <memory>
#include <string>

#include "plugins/manifest.h"
#include "plugins/plugin.h"

namespace helix::plugins {

std::unique_ptr<Executor> make_openapi_client(const Manifest& m);

// The tools of a parsed document (for tests).
std::vector<ToolSpec> openapi_tools(const ojson& doc);

}  // namespace helix::plugins

// Refusing a request with an RFC 9457 problem document through httpd's own
// error path: the hook returns the status, httpd sends the custom response,
// and a small error filter sets Content-Type to application/problem+json.
// No hook ever writes a body itself, so protected content cannot leak.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <string>

namespace cmi::httpd {

// Registers the error filter and its insert hook; call from register_hooks.
void register_problem_response();

// Prepares the problem document for `code` (docs/architecture.md §Problem types), logs the refusal with
// the transaction id, sets CMI-Transaction-ID and CMI_REFUSAL, and returns the
// status for the hook to return.
int refuse(request_rec* r, const module& m, const char* code, const std::string& detail);

// The same, with RFC 9457 extension members (a JSON object, e.g. {"items":[...]}).
int refuse(request_rec* r, const module& m, const char* code, const std::string& detail,
           const std::string& extensions);

}  // namespace cmi::httpd

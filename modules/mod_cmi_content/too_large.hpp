// LimitRequestBody on a validated location answers with the docs/architecture.md §Problem types
// problem document `too-large` (413), not httpd's HTML page.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::content {

// Fixups: marks r as validated here; a declared Content-Length above the
// limit is refused at once (before 100-continue, before the handler).
// Returns DECLINED or the refusal status.
int check_declared_length(request_rec* r);

// An insert_error_filter hook that turns httpd's own 413 (raised by HTTP_IN
// while the body streams) into the problem document, for marked requests.
void register_too_large_hook();

}  // namespace cmi::content

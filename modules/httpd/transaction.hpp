// The transaction id every CMI module reads and shares: made once per request,
// stored on the first request of a chain of subrequests and internal redirects.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "httpd/notes.hpp"

namespace cmi::httpd {

// Gets, or creates, the id; mirrors it into r->notes and r->subprocess_env.
const char* transaction_id(request_rec* r);

}  // namespace cmi::httpd

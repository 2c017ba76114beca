// Spool mode: the whole body is read into an unlinked temporary file and
// verified before the handler runs; the handler then reads the spooled copy.
// A non-atomic handler (CGI, proxy) never sees an unverified byte.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_content/content_config.hpp"
#include "mod_cmi_content/request_state.hpp"

namespace cmi::content {

void register_spool_filter();

// Reads, hashes and spools the body, then verifies it. Returns DECLINED when
// the handler may run (reading from the spool), or the status to return.
int spool_and_verify(request_rec* r, const DirConfig& dc, RequestState& st);

// A body verified as it streams (by the filter of the request it was redirected
// from, in r's input chain), read whole into a spool file before r's handler runs:
// the handler of a spooling location sees no byte of a body that fails.
int spool_verified_body(request_rec* r, const DirConfig& dc);

}  // namespace cmi::content

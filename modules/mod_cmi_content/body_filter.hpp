// Stream mode: an input filter that hashes the body bucket by bucket as the
// handler reads it, holds back the last byte and EOS until the digest has been
// compared, and on a mismatch makes the read fail with our problem document.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_content/request_state.hpp"

namespace cmi::content {

void register_body_filter();
void add_body_filter(request_rec* r, RequestState* st);

// Sends the refusal `status` (already prepared by refuse()) through httpd's
// error path from inside a filter; the filter then returns AP_FILTER_ERROR.
void send_refusal_from_filter(request_rec* r, int status);

}  // namespace cmi::content

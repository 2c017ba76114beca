// The part of validation that needs only the request headers: which format,
// is the signature well-formed, trusted and valid, is the signer bound to the
// user. Runs before the body is read, so refusals precede 100-continue.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_content/content_config.hpp"
#include "mod_cmi_content/request_state.hpp"

namespace cmi::content {

struct HeaderVerdict {
    int status = DECLINED;           // a refusal status, or DECLINED to go on
    RequestState* state = nullptr;   // r->pool-owned; nullptr: no signature (absent)
};

HeaderVerdict check_headers(request_rec* r, const DirConfig& dc);

}  // namespace cmi::content

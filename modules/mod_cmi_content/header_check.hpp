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

// A body whose signature `kept` passed check_headers under one location, handed
// (internal or fast redirect) to a location `dc` with another policy: the signer
// judged again by `dc` as check_headers would judge it there — formats, trust
// anchors, EKU, CRL, keys, max age, digest algorithms, bound signer — without the
// body, and without recording its nonce or target again. DECLINED, or the refusal.
int judge_signer_again(request_rec* r, const DirConfig& dc, const Expectation& kept);

}  // namespace cmi::content

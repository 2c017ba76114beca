// Format `http-signature` (RFC 9421 over RFC 9530 Content-Digest), request side.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_content/content_config.hpp"
#include "mod_cmi_content/request_state.hpp"

namespace cmi::content {

bool has_http_signature(request_rec* r);

// Verifies the signature over the request's components; throws ValidationError.
Expectation check_http_signature(request_rec* r, const DirConfig& dc);

// After an internal redirect into a location with another policy: the signature
// `kept` from the first check, judged by `dc` (its keys, times, digest algorithms)
// over the base it verified over. Throws ValidationError.
void judge_http_signature_again(request_rec* r, const DirConfig& dc, const Expectation& kept);

}  // namespace cmi::content

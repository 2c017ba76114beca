// The verdict on a request body belongs to the request httpd received, not to
// whichever request_rec happens to read it. ap_internal_redirect (mod_actions,
// mod_rewrite [PT], ErrorDocument, mod_cgi's local Location) starts the new
// request from the connection's protocol filters, and a subrequest may get
// them too: the guard recorded here — the filter instance that verifies or
// replays the body, or a seal on a body nobody validated — is put back in
// front of every request of the chain that could read the body.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_content/request_state.hpp"

namespace cmi::content {

// post_read_request (redirects) and insert_filter (every request that reaches a handler).
void register_body_guard();

// After `f` (verify, spool or manifest replay) was added to r: every request
// of r's chain reads the body through this filter instance.
void guard_body(request_rec* r, ap_filter_t* f);

// The signature the body of r's chain passed (r->pool-owned), kept for the
// locations a redirect may hand it to (redirect_policy.hpp).
void keep_signer(request_rec* r, const Expectation* signer);

// fixups: runs `validate` on r unless the body of r's received request already
// has its guard (a redirected request inherits it: one validation, one nonce,
// one read of the body); records what was decided. A redirected request whose
// location has another content policy has the kept signer judged by it
// (redirect_policy.hpp); refused, the body is sealed.
int validate_body_once(request_rec* r, int (*validate)(request_rec*));

// Late fixups (after mod_dir's): when r's configuration changed after the body
// was judged (ap_internal_fast_redirect: DirectoryIndex, FallbackResource hand r
// a subrequest's location), `judge` runs again for the new location.
int judge_moved_request(request_rec* r, int (*judge)(request_rec*));

// Whether r's location validates r's body (mod_cmi_content.cpp).
bool validates_body(request_rec* r);

}  // namespace cmi::content

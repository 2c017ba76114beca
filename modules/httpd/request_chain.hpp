// One request from the client can become a chain of request_recs: internal
// redirects (r->prev) and subrequests (r->main). They all stand for the
// request httpd received, and share its body.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::httpd {

// The request that started it all: follow subrequests to their main request
// and internal redirects to the request they replaced.
request_rec* first_request(request_rec* r);

// The request before r in its chain: the one it was redirected from, else the
// main request of a subrequest; nullptr for the first. chain_note's order.
const request_rec* earlier_request(const request_rec* r);

// A note set on r or on any request before it: the requests it redirected
// from (internal redirects start with fresh notes) and the main request of a
// subrequest. nullptr when none has it.
const char* chain_note(const request_rec* r, const char* key);

// Keeps one input filter instance (its record and context) in r's input
// chain: adds it to r unless the chain already holds it. ap_internal_redirect
// starts the new request from the connection's protocol filters, so a
// request-level filter of the request it replaced is gone unless added again.
void keep_input_filter(request_rec* r, ap_filter_rec_t* frec, void* ctx);

}  // namespace cmi::httpd

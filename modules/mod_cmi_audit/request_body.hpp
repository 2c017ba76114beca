// The request body as the handler read it: byte count and SHA-256, computed by
// a streaming input filter that passes every bucket on unchanged (nothing is
// buffered or copied).
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/audit_record.hpp"
#include "libcmi/sha256.hpp"

namespace cmi::audit {

struct BodyTally {
    ap_filter_rec_t* frec = nullptr;  // the filter it counts for (kept across internal redirects)
    std::optional<Sha256> hash;  // made at the first body byte (most requests have none)
    apr_uint64_t bytes = 0;
    bool eos = false;
    std::optional<std::string> digest;  // set once, at the first body_facts() after EOS
};

// Registers the CMI_AUDIT_BODY input filter; call from register_hooks.
void register_body_filter();

// Adds the filter to r with a new pool-owned tally and returns the tally.
BodyTally* add_body_filter(request_rec* r);

// Puts the filter with `tally` back in r's input chain (an internal redirect
// starts without it) unless it is there.
void keep_body_filter(request_rec* r, BodyTally* tally);

// The `request` facts of the end record: bytes, and the RFC 9530 digest when
// the whole body went through (EOS seen).
RequestBody body_facts(BodyTally& tally);
// The same as a view into the tally (which lives as long as the request).
RecordView::Body body_view(BodyTally& tally);

}  // namespace cmi::audit

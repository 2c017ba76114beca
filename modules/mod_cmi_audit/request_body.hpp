// The request body as the handler read it: byte count and SHA-256, computed by
// a streaming input filter that passes every bucket on unchanged (nothing is
// buffered or copied).
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/audit_record.hpp"
#include "libcmi/sha256.hpp"

namespace cmi::audit {

struct BodyTally {
    std::optional<Sha256> hash;  // made at the first body byte (most requests have none)
    apr_uint64_t bytes = 0;
    bool eos = false;
    std::optional<std::string> digest;  // set once, at the first body_facts() after EOS
};

// Registers the CMI_AUDIT_BODY input filter; call from register_hooks.
void register_body_filter();

// Adds the filter to r with a new pool-owned tally and returns the tally.
BodyTally* add_body_filter(request_rec* r);

// The `request` facts of the end record: bytes, and the RFC 9530 digest when
// the whole body went through (EOS seen).
RequestBody body_facts(BodyTally& tally);

}  // namespace cmi::audit

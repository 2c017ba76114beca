// Replay detection on mod_socache (CMIContentReplayCache): an RFC 9421 `nonce`
// is accepted once per signer, and a CMS signature on one target only, each for
// as long as its signature could be accepted at all; a store that cannot be
// asked refuses the request.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <string>

namespace cmi::content {

// The cache's life cycle: pre_config, post_config and child_init hooks.
void register_replay_hooks();

// Records (keyid, nonce) until `until`. Throws ValidationError:
// signature-invalid when it was recorded before, validation-unavailable when
// the store could not be asked or written (fail closed).
// `made_after`: the signature's created minus the clock skew (0: unknown).
void record_nonce(request_rec* r, const std::string& keyid, const std::string& nonce, apr_time_t until,
                  apr_time_t made_after = 0);

// Binds a CMS signature (CmsExpectation::signature_id) to the request's target
// (request_target.hpp) until `until`: the same signature again on the same
// target is an idempotent retry, on another one ValidationError
// signature-reused; validation-unavailable when the store cannot be asked or
// `signer` (whom both entries are charged to) holds its share of it.
void bind_signature_to_target(request_rec* r, const std::string& signature_id, apr_time_t until,
                              const std::string& signer);

}  // namespace cmi::content

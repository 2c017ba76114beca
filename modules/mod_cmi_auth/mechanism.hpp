// What every mechanism of AuthType CMI answers, and the helpers they share.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_auth/auth_config.hpp"

#include <mod_auth.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace cmi::auth {

enum class Verdict {
    absent,       // no credentials of this kind: the next mechanism is asked
    granted,      // valid: this identity
    denied,       // present but invalid: decides, no fall-through
    stale,        // Digest only: valid but the nonce expired (401 stale=true)
    unavailable,  // could not be checked (replay cache, authn provider): fail closed
    throttled,    // valid, but this identity holds its share of the replay cache (429, Retry-After)
};

struct Outcome {
    Verdict verdict = Verdict::absent;
    const char* user = nullptr;
    const char* issuer = nullptr;
    std::string detail;  // why, for the client and the log; never a secret
    apr_time_t retry_at = 0;  // throttled: when the identity's share frees
    // More notes/env entries (SAML: name id, assertion id, attributes).
    std::vector<std::pair<std::string, std::string>> notes;
};

// The credentials after "<scheme> " in Authorization, or nullptr if the
// header is absent or has another scheme.
const char* authorization_params(request_rec* r, const char* scheme);

// The start of every mechanism: the `scheme` credentials of Authorization, or
// nullptr when there are none (out stays `absent`: the next mechanism is asked).
// Credentials decide: out becomes `denied` until the mechanism grants. With
// `tls_only` (what they are, e.g. "Basic credentials": a secret to whoever sees
// it) they are refused, nullptr with out.detail, over a connection without TLS.
const char* presented(request_rec* r, const char* scheme, Outcome& out, const char* tls_only = nullptr);

// Base64 characters only, a multiple of 4 of them (n: how many).
bool valid_base64(const char* s, std::size_t& n);

// Asks the providers of CMIAuthProvider in turn (AUTHN_PROVIDER_NAME_NOTE set
// while one answers) until one answers other than AUTH_USER_NOT_FOUND, which
// `ask` returns for a provider that cannot answer. With `past_errors` an
// AUTH_GENERAL_ERROR does not end the search, and is the answer when no
// provider finds the user.
authn_status ask_providers(request_rec* r, const DirConfig& dc, bool past_errors,
                           const std::function<authn_status(const authn_provider&)>& ask);

// `realm` as an RFC 7230 quoted-string.
std::string quoted(const char* s);

// The realm: AuthName, or "CMI".
const char* realm(request_rec* r);

// Records `key` in the replay cache until `expiry`, charged to use.owner. A
// subrequest or internal redirect of the request that recorded it (same
// credentials, authenticated again for another per-directory configuration)
// is not a replay.
httpd::ReplayCache::Result record_once(request_rec* r, const std::string& key, apr_time_t expiry,
                                       const httpd::ReplayUse& use);
// The same for a Digest nonce and its nonce-count (a window per nonce).
httpd::ReplayCache::Result record_count(request_rec* r, const std::string& key, std::uint32_t count,
                                        apr_time_t expiry, const httpd::ReplayUse& use);
// For the answers every mechanism treats alike (unavailable, full,
// over_share): fills `out` and returns true.
bool replay_cache_refused(httpd::ReplayCache::Result res, apr_time_t free_at, Outcome& out);

Outcome cert_authenticate(request_rec* r, const DirConfig& dc);

Outcome basic_authenticate(request_rec* r, const DirConfig& dc);
void basic_challenge(request_rec* r);

Outcome digest_authenticate(request_rec* r, const DirConfig& dc);
void digest_challenge(request_rec* r, const DirConfig& dc, bool stale);

Outcome saml_authenticate(request_rec* r, const DirConfig& dc);
void saml_challenge(request_rec* r);

}  // namespace cmi::auth

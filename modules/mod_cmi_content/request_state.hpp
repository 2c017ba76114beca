// What one request must prove about its body, decided from its headers
// before the body is read, and the digest that accumulates while it streams.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/digest.hpp"
#include "libcmi/http_signature.hpp"

#include <string>

namespace cmi::content {

struct Expectation {
    const char* format = "";  // "cms" or "http-signature"
    DigestAlg alg = DigestAlg::sha256;
    std::string digest;       // the signed (cms) or signed-over (http-signature) body digest
    std::string signer;       // certificate CN or keyid
    // RFC 9421 nonce, recorded once the headers have passed every other check.
    std::string keyid;
    std::string nonce;
    bool has_nonce = false;
    apr_time_t nonce_until = 0;  // how long a replay could otherwise be accepted
    apr_time_t nonce_made_after = 0;  // `created` minus the clock skew: older than the replay cache's memory is refused
    // CMS: what the signature is (cms_signature.hpp), bound to its first target until then.
    std::string signature_id;
    apr_time_t signature_until = 0;
    std::string signature_owner;  // whom its replay cache entries are charged to: the certificate's subject at its CA
    // What a location with another policy judges the signer by after an internal
    // redirect, without the body (redirect_policy.hpp): the CMS as sent, or the
    // RFC 9421 signature and the base it verified over (the redirected request has
    // another target).
    std::string cms_der;
    httpsig::Signature http_signature;
    std::string http_base;
};

// Seconds a client clock may be ahead or behind (RFC 9421 created, CMS signingTime).
inline constexpr long kClockSkew = 60;

struct RequestState {
    explicit RequestState(Expectation e) : expect(std::move(e)), digest(expect.alg) {}
    Expectation expect;
    StreamingDigest digest;
};

// Publishes a key in r->notes and r->subprocess_env.
void publish(request_rec* r, const char* key, const std::string& value);

// After the whole body: compares the streamed digest, publishes the result.
// Returns nullptr when it matches, else the problem code for refuse().
const char* conclude(request_rec* r, RequestState& st, std::string& detail);

}  // namespace cmi::content

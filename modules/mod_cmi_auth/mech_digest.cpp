// `digest`: RFC 7616 with qop=auth, SHA-256 (and MD5 where listed). Nonces are stateless
// (time + HMAC), so any node with the same secret accepts them; each
// (nonce, nc) pair is recorded in the replay cache so a captured request
// cannot be sent again.
#include "mod_cmi_auth/mechanism.hpp"

#include "libcmi/digest_auth.hpp"

#include <ap_provider.h>
#include <mod_auth.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace cmi::auth {
namespace {

using digest::Algorithm;

std::string_view secret(request_rec* r) {
    const ServerConfig& sc = server_config(r->server);
    return {sc.nonce_secret, sc.nonce_secret_len};
}

// Nonces carry the replay cache's generation: one made before a restart of a
// local cache (whose nonce-counts the restart lost) is answered stale=true.
std::uint32_t generation(request_rec* r) {
    const httpd::ReplayCache* c = server_config(r->server).replay_cache;
    return c ? c->generation() : 0;
}

bool offered(const DirConfig& dc, apr_pool_t* p, Algorithm a) {
    apr_array_header_t* algs = digest_algorithms(dc, p);
    for (int i = 0; i < algs->nelts; ++i)
        if (APR_ARRAY_IDX(algs, i, Algorithm) == a) return true;
    return false;
}

std::uint32_t nonce_count(const std::string& nc) {  // 8 hex digits (parse_credentials)
    return static_cast<std::uint32_t>(std::strtoul(nc.c_str(), nullptr, 16));
}

bool is_hex(const char* s) {
    for (; *s; ++s)
        if (!apr_isxdigit(*s)) return false;
    return true;
}

// H(A1) from the first provider that has an entry of the algorithm's kind:
// 32 hex digits for MD5 (htdigest), 64 for SHA-256 (cmi-htdigest).
authn_status realm_hash(request_rec* r, const DirConfig& dc, const digest::Credentials& c, const char** hash) {
    return ask_providers(r, dc, true, [&](const authn_provider& p) {
        char* h = nullptr;
        const authn_status st =
            p.get_realm_hash ? p.get_realm_hash(r, c.username.c_str(), c.realm.c_str(), &h) : AUTH_USER_NOT_FOUND;
        if (st != AUTH_USER_FOUND) return st;
        if (!h || std::strlen(h) != digest::hex_length(c.algorithm) || !is_hex(h)) return AUTH_USER_NOT_FOUND;
        *hash = h;
        return AUTH_USER_FOUND;
    });
}

}  // namespace

Outcome digest_authenticate(request_rec* r, const DirConfig& dc) {
    Outcome out;
    const char* params = presented(r, "Digest", out);
    if (!params) return out;
    auto c = digest::parse_credentials(params);
    if (!c) {
        out.detail = "Malformed Digest credentials (qop=auth, algorithm SHA-256 or MD5 required).";
        return out;
    }
    if (!offered(dc, r->pool, c->algorithm)) {
        out.detail = std::string("Digest algorithm ") + digest::algorithm_name(c->algorithm) + " is not accepted here.";
        return out;
    }
    if (c->realm != realm(r)) {
        out.detail = "The Digest realm does not match.";
        return out;
    }
    if (!r->unparsed_uri || c->uri != r->unparsed_uri) {
        out.detail = "The Digest uri does not match the request target.";
        return out;
    }
    const apr_time_t now = apr_time_now();
    const int lifetime = nonce_lifetime(dc);
    const auto nonce_state = digest::check_nonce(secret(r), c->realm, c->algorithm, c->nonce, apr_time_sec(now),
                                                 lifetime, generation(r));
    if (nonce_state == digest::NonceState::invalid) {
        out.detail = "The Digest nonce was not issued here.";
        return out;
    }
    if (nonce_state == digest::NonceState::other_algorithm) {
        out.detail = std::string("The Digest nonce was issued with another algorithm's challenge; answer each "
                                 "challenge with its own algorithm (") +
                     digest::algorithm_name(c->algorithm) + " here).";
        return out;
    }
    const char* hash = nullptr;
    const authn_status st = realm_hash(r, dc, *c, &hash);
    if (st == AUTH_GENERAL_ERROR) {
        out.verdict = Verdict::unavailable;
        out.detail = "The user directory could not be consulted.";
        return out;
    }
    if (st != AUTH_USER_FOUND ||
        !digest::hex_equal(digest::expected_response(c->algorithm, hash, *c, r->method), c->response)) {
        out.detail = "Wrong user name or password.";
        return out;
    }
    if (nonce_state == digest::NonceState::stale) {
        out.verdict = Verdict::stale;
        out.detail = "The Digest nonce has expired; retry with the new nonce.";
        return out;
    }
    // Charged to the user: one user's requests cannot fill the cache for the others.
    const std::string owner = "digest\n" + c->realm + "\n" + c->username;
    apr_time_t free_at = 0;
    const auto res = record_count(r, "cmi-dg:" + c->nonce, nonce_count(c->nc), now + apr_time_from_sec(lifetime + 5),
                                  {owner, 0, &free_at});
    if (replay_cache_refused(res, free_at, out)) return out;
    if (res == httpd::ReplayCache::Result::replayed) {
        out.detail = "This Digest nonce-count was already used (replay).";
        return out;
    }
    if (res == httpd::ReplayCache::Result::behind_window || res == httpd::ReplayCache::Result::before_start) {
        out.verdict = Verdict::stale;  // cannot be told from a replay: the client retries with a new nonce
        out.detail = "The Digest nonce-count is too far behind the highest one used with this nonce; retry with "
                     "the new nonce.";
        return out;
    }
    out.verdict = Verdict::granted;
    out.user = apr_pstrdup(r->pool, c->username.c_str());
    return out;
}

// One challenge per algorithm, each with its own nonce: a nonce answers only
// the challenge that carried it (no downgrade from SHA-256 to MD5).
void digest_challenge(request_rec* r, const DirConfig& dc, bool stale) {
    const std::string realm_q = quoted(realm(r));
    const std::int64_t now = apr_time_sec(apr_time_now());
    apr_array_header_t* algs = digest_algorithms(dc, r->pool);
    for (int i = 0; i < algs->nelts; ++i) {
        const Algorithm a = APR_ARRAY_IDX(algs, i, Algorithm);
        unsigned char salt[8];
        if (apr_generate_random_bytes(salt, sizeof salt) != APR_SUCCESS)
            throw std::runtime_error("no random bytes for a Digest nonce");
        const std::string nonce = digest::make_nonce(secret(r), realm(r), a, now, salt, generation(r));
        apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                       apr_pstrcat(r->pool, "Digest realm=", realm_q.c_str(), ", qop=\"auth\", algorithm=",
                                   digest::algorithm_name(a), ", nonce=\"", nonce.c_str(), "\"",
                                   stale ? ", stale=true" : "", nullptr));
    }
}

}  // namespace cmi::auth

#include "mod_cmi_content/http_signature_check.hpp"

#include "libcmi/content_digest.hpp"
#include "libcmi/http_signature.hpp"
#include "libcmi/http_signature_crypto.hpp"
#include "libcmi/validation_error.hpp"
#include "mod_cmi_content/evidence_notes.hpp"

#include <stdexcept>
#include <string>

namespace cmi::content {
namespace {

httpsig::Request request_view(request_rec* r) {
    httpsig::Request rq;
    rq.method = r->method;
    rq.scheme = ap_http_scheme(r);
    const char* host = apr_table_get(r->headers_in, "Host");
    rq.authority = host ? host : r->hostname ? r->hostname : "";
    // The raw path and query as the client sent them (r->uri is decoded).
    rq.path = r->parsed_uri.path ? r->parsed_uri.path : "/";
    rq.has_query = r->parsed_uri.query != nullptr;
    rq.query = rq.has_query ? r->parsed_uri.query : "";
    rq.field = [r](const std::string& name) -> std::optional<std::string> {
        // httpd has already combined repeated request fields with ", ".
        const char* v = apr_table_get(r->headers_in, name.c_str());
        if (!v) return std::nullopt;
        return std::string(v);
    };
    return rq;
}

const char* header(request_rec* r, const char* name) {
    const char* v = apr_table_get(r->headers_in, name);
    if (!v)
        throw ValidationError("signature-malformed",
                              std::string("format http-signature needs Content-Digest, Signature-Input and Signature; ") +
                                  name + " is missing");
    return v;
}

// The keyid's form and the signature's times (CMIContentSignatureMaxAge).
void check_params(request_rec* r, const DirConfig& dc, const httpsig::Params& params) {
    if (!dc.signer_keys_dir)
        throw std::logic_error("CMIContentSignerKeys is not set for this location; RFC 9421 signatures cannot be verified");
    if (!httpsig::valid_keyid(params.keyid))
        throw ValidationError("signature-malformed", "keyid must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    httpsig::check_times(params, apr_time_sec(r->request_time), kClockSkew, signature_max_age(dc));
}

// The signer: the key of its keyid in CMIContentSignerKeys, fit to sign content
// (CMIContentSignerEKU, CMIContentCRL), and the signature verifies over `base`
// with it. Throws ValidationError.
ossl::Pkey judge_signer(request_rec* r, const DirConfig& dc, const httpsig::Signature& sig, const std::string& base) {
    const std::string key_file = std::string(dc.signer_keys_dir) + "/" + sig.params.keyid + ".pem";
    const std::string pem = httpsig::read_key_file(key_file);
    ossl::Pkey key = httpsig::public_key_from_pem(pem);
    if (!key) throw ValidationError("signer-untrusted", "keyid '" + sig.params.keyid + "' is not a known content signer");
    httpsig::check_signer_key(pem, key.get(), apr_time_sec(r->request_time), sig.params.keyid, dc.signer_purposes,
                              dc.crl);
    const httpsig::Alg alg = httpsig::resolve_alg(sig.params.alg, key.get());
    if (!httpsig::verify_base(alg, key.get(), base, sig.value))
        throw ValidationError("signature-invalid", std::string("the ") + httpsig::alg_name(alg) +
                                                       " signature does not verify with the key of keyid '" +
                                                       sig.params.keyid + "'");
    return key;
}

}  // namespace

bool has_http_signature(request_rec* r) {
    return apr_table_get(r->headers_in, "Signature-Input") || apr_table_get(r->headers_in, "Signature");
}

Expectation check_http_signature(request_rec* r, const DirConfig& dc) {
    if (!dc.signer_keys_dir)
        throw std::logic_error("CMIContentSignerKeys is not set for this location; RFC 9421 signatures cannot be verified");
    const char* input = header(r, "Signature-Input");
    const char* sig_field = header(r, "Signature");
    const char* digest_field = header(r, "Content-Digest");

    Expectation e;
    e.http_signature = httpsig::parse_signature_fields(input, sig_field);
    const httpsig::Signature& sig = e.http_signature;
    // Only a signature over the body digest and the method binds this content to this operation.
    httpsig::require_component(sig.params, "content-digest");
    httpsig::require_component(sig.params, "@method");
    // ... and its target: else a captured request could be replayed to any path.
    httpsig::require_target(sig.params, server_config(r->server).several_hosts);
    check_params(r, dc, sig.params);

    ClaimedDigest claimed;
    try {
        claimed = parse_content_digest(digest_field, digest_algs(dc));
    } catch (const ContentDigestError& ex) {
        throw ValidationError("signature-malformed", ex.what());
    }

    e.http_base = httpsig::signature_base(sig.params, request_view(r));
    ossl::Pkey key = judge_signer(r, dc, sig, e.http_base);
    publish_http_signature_evidence(r, e.http_base, sig.value, sig.params.keyid, key.get());
    e.format = "http-signature";
    e.alg = claimed.alg;
    e.digest = claimed.value;
    e.signer = sig.params.keyid;
    e.keyid = sig.params.keyid;
    if (sig.params.nonce) {
        // The signature is accepted until created + max age (or expires, if
        // sooner), each plus the clock skew: the nonce must be remembered as long.
        int64_t until = *sig.params.created + signature_max_age(dc);
        if (sig.params.expires && *sig.params.expires < until) until = *sig.params.expires;
        e.has_nonce = true;
        e.nonce = *sig.params.nonce;
        e.nonce_until = apr_time_from_sec(until + kClockSkew + 1);
        e.nonce_made_after = apr_time_from_sec(*sig.params.created - kClockSkew);
    }
    return e;
}

void judge_http_signature_again(request_rec* r, const DirConfig& dc, const Expectation& kept) {
    check_params(r, dc, kept.http_signature.params);
    bool accepted = false;
    for (const DigestAlg alg : digest_algs(dc)) accepted = accepted || alg == kept.alg;
    if (!accepted)
        throw ValidationError("signature-malformed", std::string("Content-Digest: ") + digest_alg_name(kept.alg) +
                                                         " is not accepted here (CMIContentDigestAlgorithms)");
    judge_signer(r, dc, kept.http_signature, kept.http_base);
}

}  // namespace cmi::content

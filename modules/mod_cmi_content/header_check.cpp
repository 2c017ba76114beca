#include "httpd/notes.hpp"
#include "mod_cmi_content/header_check.hpp"

#include "httpd/pool_object.hpp"
#include "httpd/problem_response.hpp"
#include "libcmi/base64.hpp"
#include "libcmi/cms_signature.hpp"
#include "mod_cmi_content/evidence_notes.hpp"
#include "mod_cmi_content/http_signature_check.hpp"
#include "mod_cmi_content/replay_check.hpp"
#include "mod_cmi_content/signer_identity.hpp"

#include <stdexcept>
#include <string>

namespace cmi::content {
namespace {

constexpr const char* kCmsHeader = "CMI-Content-Signature";

// The CMS signature judged by this location's policy: its signer chain and
// purpose, its signature over the signed attributes, its signingTime. The body
// is not needed (its digest is compared as it streams).
Expectation judge_cms(request_rec* r, const DirConfig& dc, const std::string& der) {
    if (!dc.anchors) throw std::logic_error("CMIContentTrustAnchors is not set for this location; CMS signatures cannot be verified");
    const CmsExpectation cms = verify_cms_signature(der, signer_policy(dc), digest_algs(dc));
    const long max_age = signature_max_age(dc);
    check_signing_time(cms, apr_time_sec(r->request_time), kClockSkew, max_age);
    Expectation e;
    e.format = "cms";
    // Bound to its first target for as long as it could be accepted at all.
    e.signature_id = cms.signature_id;
    const std::int64_t from = cms.signing_time ? *cms.signing_time : apr_time_sec(r->request_time);
    e.signature_until = apr_time_from_sec(from + max_age + kClockSkew + 1);
    const std::string* issuer = find_signer_variable(cms.signer_vars, "SIGNER_I_DN");
    e.signature_owner = "cms\n" + cms.signer_dn + "\n" + (issuer ? *issuer : std::string());
    e.alg = cms.alg;
    e.digest = cms.message_digest;
    e.signer = dc.signer_identity ? signer_identity(r, dc.signer_identity, cms.signer_vars) : cms.signer_cn;
    return e;
}

Expectation check_cms(request_rec* r, const DirConfig& dc, const char* header) {
    auto der = base64_decode(header);
    if (!der || der->empty())
        throw ValidationError("signature-malformed", std::string(kCmsHeader) + " is not base64 of a DER CMS structure");
    Expectation e = judge_cms(r, dc, *der);
    publish_cms_evidence(r, *der);
    e.cms_der = std::move(*der);
    return e;
}

const char* cmi_user(request_rec* r) {
    const char* u = apr_table_get(r->notes, httpd::kUserKey);
    return u ? u : r->user;
}

// CMIContentBindSigner: the signer identity must be the authenticated CMI user.
void check_bound(request_rec* r, const DirConfig& dc, const std::string& signer) {
    if (!binds_signer(dc)) return;
    const char* user = cmi_user(r);
    if (!user || signer.empty() || signer != user)
        throw ValidationError("signer-not-bound", "The content signer '" + signer + "' is not the authenticated user" +
                                                      (user ? std::string(" '") + user + "'." : "."));
}

unsigned format_bit(const char* format) {
    return std::string_view(format) == "cms" ? kFormatCms : kFormatHttpSignature;
}

}  // namespace

HeaderVerdict check_headers(request_rec* r, const DirConfig& dc) {
    const unsigned accepted = formats(dc);
    if (!accepted)  // apache2 -t refuses this unless a section it cannot place might fill it in
        throw std::logic_error("neither CMIContentTrustAnchors nor CMIContentSignerKeys applies to this location; "
                               "no content signature can be verified");
    const char* cms = (accepted & kFormatCms) ? apr_table_get(r->headers_in, kCmsHeader) : nullptr;
    const bool http = (accepted & kFormatHttpSignature) && has_http_signature(r);

    if (cms && http)
        return {httpd::refuse(r, cmi_content_module, "signature-malformed",
                              "Send one content signature: CMI-Content-Signature or Signature-Input/Signature, not both."),
                nullptr};
    if (!cms && !http) {
        if (validation(dc) == Validation::required) {
            publish(r, httpd::kContentValidationKey, "absent");
            std::string how;
            if (accepted & kFormatCms) how = "a CMI-Content-Signature header (format cms)";
            if (accepted & kFormatHttpSignature)
                how += std::string(how.empty() ? "" : " or ") +
                       "Content-Digest with Signature-Input/Signature (format http-signature)";
            return {httpd::refuse(r, cmi_content_module, "signature-required",
                                  "This CMI interface requires signed content: send " + how + "."),
                    nullptr};
        }
        publish(r, httpd::kContentValidationKey, "absent");
        return {};
    }

    // The format is known from the headers: a refusal is counted and recorded under it.
    publish(r, httpd::kContentFormatKey, cms ? "cms" : "http-signature");
    try {
        Expectation e = cms ? check_cms(r, dc, cms) : check_http_signature(r, dc);
        publish(r, httpd::kContentSignerKey, e.signer);  // verified; recorded even if not bound to the user
        check_bound(r, dc, e.signer);
        if (e.has_nonce) record_nonce(r, e.keyid, e.nonce, e.nonce_until, e.nonce_made_after);
        if (!e.signature_id.empty()) bind_signature_to_target(r, e.signature_id, e.signature_until, e.signature_owner);
        return {DECLINED, httpd::pool_new<RequestState>(r->pool, std::move(e))};
    } catch (const ValidationError& ve) {
        publish(r, httpd::kContentValidationKey, "invalid");
        return {httpd::refuse(r, cmi_content_module, ve.code, ve.what()), nullptr};
    }
}

}  // namespace cmi::content

namespace cmi::content {

int judge_signer_again(request_rec* r, const DirConfig& dc, const Expectation& kept) {
    const unsigned accepted = formats(dc);
    if (!accepted)
        throw std::logic_error("neither CMIContentTrustAnchors nor CMIContentSignerKeys applies to this location; "
                               "no content signature can be verified");
    if (!(accepted & format_bit(kept.format))) {
        // This location does not read the signature the body was verified by: to it
        // the body is unsigned (Optional lets that in), unless it carries one it reads.
        const bool other = (accepted & kFormatCms) ? apr_table_get(r->headers_in, kCmsHeader) != nullptr
                                                   : has_http_signature(r);
        if (validation(dc) == Validation::optional && !other) return DECLINED;
        if (other)
            return httpd::refuse(r, cmi_content_module, "redirect-refused",
                                 std::string("This location reads the other content signature of the request, which "
                                             "the location it was sent to did not verify; send it there directly."));
        return httpd::refuse(r, cmi_content_module, "signature-required",
                             std::string("This CMI interface requires signed content in format ") +
                                 ((accepted & kFormatCms) ? "cms" : "http-signature") + "; the request was signed in " +
                                 kept.format + ".");
    }
    try {
        std::string signer = kept.signer;
        if (format_bit(kept.format) == kFormatCms) {
            const Expectation e = judge_cms(r, dc, kept.cms_der);
            signer = e.signer;
        } else {
            judge_http_signature_again(r, dc, kept);
        }
        publish(r, httpd::kContentSignerKey, signer);
        check_bound(r, dc, signer);
        return DECLINED;
    } catch (const ValidationError& ve) {
        publish(r, httpd::kContentValidationKey, "invalid");
        return httpd::refuse(r, cmi_content_module, ve.code, ve.what());
    }
}

}  // namespace cmi::content

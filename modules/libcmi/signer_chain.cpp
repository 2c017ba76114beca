#include "libcmi/signer_chain.hpp"

#include "libcmi/ossl.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <stdexcept>
#include <string>

namespace cmi {
namespace {

constexpr const char* kWho = "the content signer certificate";

// With a CRL file, the signer needs its issuer's CRL; a CA of the chain is
// checked where the file has one for it and otherwise passes.
extern "C" int tolerate_missing_ca_crl(int ok, X509_STORE_CTX* ctx) noexcept {
    if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL &&
        X509_STORE_CTX_get_error_depth(ctx) > 0) {
        X509_STORE_CTX_set_error(ctx, X509_V_OK);
        return 1;
    }
    return ok;
}

}  // namespace

void verify_signer_chain(X509* signer, STACK_OF(X509) * untrusted, const SignerPolicy& policy, std::time_t at) {
    if (EVP_PKEY* key = X509_get0_pubkey(signer)) check_key_strength(key, kWho);
    ERR_clear_error();
    const ossl::UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
    if (!ctx || !X509_STORE_CTX_init(ctx.get(), policy.anchors->store(), signer, untrusted))
        throw std::runtime_error("X509_STORE_CTX_init failed");
    // The purpose is judged below by its extended key usage (X509_PURPOSE_ANY
    // demands none); OpenSSL's level 2 refuses weak CA keys and SHA-1 in the chain.
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_auth_level(param, 2);
    if (at) X509_VERIFY_PARAM_set_time(param, at);
    if (policy.crls) {
        X509_STORE_CTX_set0_crls(ctx.get(), policy.crls->crls());
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
        X509_STORE_CTX_set_verify_cb(ctx.get(), tolerate_missing_ca_crl);
    }
    if (X509_verify_cert(ctx.get()) != 1) {
        const int err = X509_STORE_CTX_get_error(ctx.get());
        ERR_clear_error();
        throw ValidationError("signer-untrusted", std::string("the content signer certificate is not trusted: ") +
                                                      X509_verify_cert_error_string(err));
    }
    if ((X509_get_extension_flags(signer) & EXFLAG_KUSAGE) &&
        !(X509_get_key_usage(signer) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
        throw ValidationError("signer-untrusted",
                              "the content signer certificate's key usage allows no digital signature");
    check_key_purpose(signer, policy.purposes, kWho);
}

}  // namespace cmi

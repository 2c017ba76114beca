#include "libcmi/signer_chain.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace cmi {

void verify_signer_chain(X509* signer, STACK_OF(X509) * untrusted, const TrustAnchors& anchors, std::time_t at) {
    std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
    if (!ctx || !X509_STORE_CTX_init(ctx.get(), anchors.store(), signer, untrusted))
        throw std::runtime_error("X509_STORE_CTX_init failed");
    // Content signers often reuse their TLS client certificate, so no extended
    // key usage is demanded; the key usage, if present, must allow signing.
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
    if (at) X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), at);
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
}

}  // namespace cmi

// CMI-Content-Signature carries attacker-chosen DER: every outcome is a
// verified expectation or a ValidationError, nothing else.
// fuzz-sources: libcmi/cms_signature.cpp libcmi/cms_der.cpp libcmi/signer_vars.cpp libcmi/signer_chain.cpp libcmi/trust_anchors.cpp libcmi/x509_name.cpp libcmi/digest.cpp libcmi/base64.cpp libcmi/ossl.cpp libcmi/sha256.cpp libcmi/signer_policy.cpp
#include "libcmi/cms_der.hpp"
#include "libcmi/cms_signature.hpp"
#include "libcmi/ossl.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unistd.h>

static std::unique_ptr<cmi::TrustAnchors> anchors;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // A throw-away self-signed CA as the only anchor.
    const cmi::ossl::Pkey owned_key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    const cmi::ossl::UniquePtr<X509> owned_ca(X509_new());
    EVP_PKEY* key = owned_key.get();
    X509* ca = owned_ca.get();
    X509_set_version(ca, 2);
    X509_gmtime_adj(X509_getm_notBefore(ca), 0);
    X509_gmtime_adj(X509_getm_notAfter(ca), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(ca), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("fuzz CA"), -1, -1, 0);
    X509_set_issuer_name(ca, X509_get_subject_name(ca));
    X509_set_pubkey(ca, key);
    X509_sign(ca, key, EVP_sha256());
    const std::string path = "/tmp/cmi-fuzz-anchor-" + std::to_string(getpid()) + ".pem";
    FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_X509(f, ca);
    std::fclose(f);
    anchors = std::make_unique<cmi::TrustAnchors>(path);
    std::remove(path.c_str());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view der(reinterpret_cast<const char*>(data), size);
    // The certificate splitter (a manifest's signer cache) sees the same bytes;
    // what it leaves must be a sub-sequence no longer than the input.
    if (const auto split = cmi::without_certificates(der)) {
        if (split->certificates.size() > size || split->der.size() > size) __builtin_trap();
    }
    cmi::CmsSignerCache cache;
    for (int pass = 0; pass < 2; ++pass) {  // the second pass may take the cached path
        try {
            const auto e = cmi::verify_cms_signature(der, *anchors, {cmi::DigestAlg::sha256, cmi::DigestAlg::sha512}, 0,
                                                     &cache);
            cmi::check_cms_digest(e, std::string(cmi::digest_alg_size(e.alg), '\0'));
        } catch (const cmi::ValidationError&) {
        }
    }
    return 0;
}

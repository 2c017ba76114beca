// Keys, certificates and CMS signatures made inside the unit tests.
#pragma once
#include "libcmi/ossl.hpp"
#include "libcmi/validation_error.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

namespace testpki {

struct Cred {
    std::shared_ptr<EVP_PKEY> key;
    std::shared_ptr<X509> cert;
};

std::shared_ptr<EVP_PKEY> ec_key(const char* curve = "P-256");
std::shared_ptr<EVP_PKEY> ed25519_key();
std::shared_ptr<EVP_PKEY> rsa_key(int bits = 2048);
std::string private_key_pem(EVP_PKEY* key);  // PKCS#8 PEM, unencrypted

Cred make_ca(const std::string& cn, int not_before_days = -1);
// days are relative to now; a negative not_after makes an expired certificate.
// `eku`: the extended key usage (nullptr: none); `key`: the subject key (default a new P-256).
Cred issue(const Cred& ca, const std::string& cn, int not_before_days = -1, int not_after_days = 30,
           bool signing_key_usage = true, const char* eku = "clientAuth,emailProtection",
           std::shared_ptr<EVP_PKEY> key = nullptr);

// An intermediate CA under `parent`.
Cred issue_ca(const Cred& parent, const std::string& cn);

// DER of a detached CMS over data that also carries `extra` certificates.
std::string cms_sign_with(const std::string& data, const Cred& signer, const std::vector<X509*>& extra);

// Writes PEM certificates to a temporary file; returns its path.
std::string write_pem(const std::string& stem, const X509* cert);

// DER of a detached CMS SignedData over data (as `openssl cms -sign -binary`).
std::string cms_sign(const std::string& data, const Cred& signer, const EVP_MD* md = EVP_sha256(),
                     bool detached = true, bool include_cert = true);

// The problem code of the ValidationError `f` throws, or "ok" when it throws none.
template <class F>
std::string code_of(F&& f) {
    try {
        f();
    } catch (const cmi::ValidationError& e) {
        return e.code;
    }
    return "ok";
}

}  // namespace testpki

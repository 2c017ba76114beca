#include "libcmi/cert_fingerprint.hpp"

#include "libcmi/ossl.hpp"
#include "libcmi/sha256.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>


namespace cmi {

std::optional<std::string> pem_certificate_sha256(std::string_view pem) {
    if (pem.empty()) return std::nullopt;
    const auto bio = ossl::memory_bio(pem);
    if (!bio) return std::nullopt;
    const ossl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return std::nullopt;
    const std::string der = ossl::to_der(i2d_X509, cert.get());
    if (der.empty()) return std::nullopt;
    return sha256_hex(der);
}

}  // namespace cmi

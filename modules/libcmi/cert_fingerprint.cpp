#include "libcmi/cert_fingerprint.hpp"

#include "libcmi/sha256.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <limits>
#include <memory>

namespace cmi {

std::optional<std::string> pem_certificate_sha256(std::string_view pem) {
    if (pem.empty() || pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return std::nullopt;
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                   &BIO_free);
    if (!bio) return std::nullopt;
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                      &X509_free);
    if (!cert) return std::nullopt;
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert.get(), &der);
    if (len <= 0) return std::nullopt;
    std::string hexed = sha256_hex(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len)));
    OPENSSL_free(der);
    return hexed;
}

}  // namespace cmi

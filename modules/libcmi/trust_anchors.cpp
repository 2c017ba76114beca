#include "libcmi/trust_anchors.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdexcept>

namespace cmi {

TrustAnchors::TrustAnchors(const std::string& pem_file) : store_(X509_STORE_new()), file_(pem_file) {
    if (!store_) throw std::runtime_error("out of memory");
    const auto bio = ossl::readable_file_bio(pem_file);
    int n = 0;
    while (ossl::UniquePtr<X509> cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
        X509_STORE_add_cert(store_.get(), cert.get());  // takes its own reference
        ++n;
    }
    ERR_clear_error();  // the PEM reader ends with "no start line"
    if (n == 0) throw std::runtime_error("'" + pem_file + "' holds no PEM certificate");
}

}  // namespace cmi

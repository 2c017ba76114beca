// A CA bundle that content signers must chain to (CMIContentTrustAnchors).
#pragma once
#include "libcmi/ossl.hpp"

#include <string>

namespace cmi {

class TrustAnchors {
public:
    // Loads every certificate of a PEM bundle; throws std::runtime_error when
    // the file is unreadable or holds no certificate.
    explicit TrustAnchors(const std::string& pem_file);

    X509_STORE* store() const { return store_.get(); }
    const std::string& file() const { return file_; }

private:
    ossl::UniquePtr<X509_STORE> store_;
    std::string file_;
};

}  // namespace cmi

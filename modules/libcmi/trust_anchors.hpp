// A CA bundle that content signers must chain to (CMIContentTrustAnchors).
#pragma once
#include <string>

struct x509_store_st;

namespace cmi {

class TrustAnchors {
public:
    // Loads every certificate of a PEM bundle; throws std::runtime_error when
    // the file is unreadable or holds no certificate.
    explicit TrustAnchors(const std::string& pem_file);
    ~TrustAnchors();
    TrustAnchors(const TrustAnchors&) = delete;
    TrustAnchors& operator=(const TrustAnchors&) = delete;

    x509_store_st* store() const { return store_; }
    const std::string& file() const { return file_; }

private:
    x509_store_st* store_;
    std::string file_;
};

}  // namespace cmi

#include "libcmi/x509_name.hpp"

#include "libcmi/ossl.hpp"

#include <openssl/bio.h>
#include <openssl/x509.h>

namespace cmi {

std::string utf8_of(const ASN1_STRING* s) {
    unsigned char* out = nullptr;
    const int n = ASN1_STRING_to_UTF8(&out, s);
    const ossl::UniquePtr<unsigned char> owned(out);
    return n < 0 || !out ? std::string() : std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

std::string rfc2253(const X509_NAME* name) {
    const ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    if (!bio) return {};
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    return ossl::bio_text(bio.get());
}

std::string subject_cn(const X509* cert) {
    const X509_NAME* name = X509_get_subject_name(cert);
    const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    return idx < 0 ? std::string() : utf8_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
}

std::string subject_dn(const X509* cert) { return rfc2253(X509_get_subject_name(cert)); }

}  // namespace cmi

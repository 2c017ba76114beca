// OpenSSL objects owned by RAII, in the spirit of BoringSSL's bssl::UniquePtr:
// `ossl::UniquePtr<X509>` frees with X509_free, and so for every OpenSSL type
// mod_cmi holds; stacks own their elements (sk_X509_pop_free). `ossl::Pkey` is
// the one owning EVP_PKEY pointer. Only OpenSSL's type declarations come in
// here: the deleters live in ossl.cpp, so headers can hold these without
// pulling in the OpenSSL API.
#pragma once
#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>

typedef struct ec_group_st EC_GROUP;
typedef struct ECDSA_SIG_st ECDSA_SIG;
typedef struct CMS_ContentInfo_st CMS_ContentInfo;
struct stack_st_X509;
struct stack_st_X509_CRL;
struct stack_st_ASN1_OBJECT;   // EXTENDED_KEY_USAGE
struct stack_st_GENERAL_NAME;  // GENERAL_NAMES

namespace cmi::ossl {

template <class T>
struct Deleter;  // one specialisation per type below

#define CMI_OSSL_DELETER(T)                      \
    template <>                                  \
    struct Deleter<T> {                          \
        void operator()(T* p) const noexcept;    \
    }
CMI_OSSL_DELETER(ASN1_OBJECT);
CMI_OSSL_DELETER(ASN1_STRING);  // ASN1_TIME, ASN1_INTEGER, ... too
CMI_OSSL_DELETER(BIGNUM);
CMI_OSSL_DELETER(BIO);
CMI_OSSL_DELETER(CMS_ContentInfo);
CMI_OSSL_DELETER(EC_GROUP);
CMI_OSSL_DELETER(ECDSA_SIG);
CMI_OSSL_DELETER(EVP_MD);
CMI_OSSL_DELETER(EVP_MD_CTX);
CMI_OSSL_DELETER(EVP_PKEY);
CMI_OSSL_DELETER(EVP_PKEY_CTX);
CMI_OSSL_DELETER(X509);
CMI_OSSL_DELETER(X509_CRL);
CMI_OSSL_DELETER(X509_STORE);
CMI_OSSL_DELETER(X509_STORE_CTX);
CMI_OSSL_DELETER(stack_st_X509);
CMI_OSSL_DELETER(stack_st_X509_CRL);
CMI_OSSL_DELETER(stack_st_ASN1_OBJECT);
CMI_OSSL_DELETER(stack_st_GENERAL_NAME);
CMI_OSSL_DELETER(char);           // OPENSSL_free: strings OpenSSL allocated (BN_bn2hex)
CMI_OSSL_DELETER(unsigned char);  // OPENSSL_free: buffers OpenSSL allocated (i2d_*, ASN1_STRING_to_UTF8)
#undef CMI_OSSL_DELETER

template <class T>
using UniquePtr = std::unique_ptr<T, Deleter<T>>;

using Pkey = UniquePtr<EVP_PKEY>;

// The DER encoding of `obj` by an i2d_* function; "" when it cannot be encoded.
template <class T>
std::string to_der(int (*encode)(const T*, unsigned char**), const T* obj) {
    unsigned char* der = nullptr;
    const int n = encode(obj, &der);
    const UniquePtr<unsigned char> owned(der);
    return n > 0 && der ? std::string(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n)) : std::string();
}

// A read-only memory BIO over `data` (which must outlive it); nullptr when
// `data` is too large for OpenSSL's int lengths or memory runs out.
UniquePtr<BIO> memory_bio(std::string_view data);

// The contents of a memory BIO.
std::string bio_text(BIO* bio);

// A file BIO for reading `path`; nullptr (OpenSSL's error queue cleared) when it cannot be opened.
UniquePtr<BIO> file_bio(const std::string& path);
// The same, or std::runtime_error "cannot read '<path>'".
UniquePtr<BIO> readable_file_bio(const std::string& path);

}  // namespace cmi::ossl

#include "libcmi/ossl.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <limits>
#include <stdexcept>

namespace cmi::ossl {

#define CMI_OSSL_FREE(T, call) \
    void Deleter<T>::operator()(T* p) const noexcept { call; }
CMI_OSSL_FREE(ASN1_OBJECT, ASN1_OBJECT_free(p))
CMI_OSSL_FREE(ASN1_STRING, ASN1_STRING_free(p))
CMI_OSSL_FREE(BIGNUM, BN_free(p))
CMI_OSSL_FREE(BIO, BIO_free_all(p))
CMI_OSSL_FREE(CMS_ContentInfo, CMS_ContentInfo_free(p))
CMI_OSSL_FREE(EC_GROUP, EC_GROUP_free(p))
CMI_OSSL_FREE(ECDSA_SIG, ECDSA_SIG_free(p))
CMI_OSSL_FREE(EVP_MD, EVP_MD_free(p))
CMI_OSSL_FREE(EVP_MD_CTX, EVP_MD_CTX_free(p))
CMI_OSSL_FREE(EVP_PKEY, EVP_PKEY_free(p))
CMI_OSSL_FREE(EVP_PKEY_CTX, EVP_PKEY_CTX_free(p))
CMI_OSSL_FREE(X509, X509_free(p))
CMI_OSSL_FREE(X509_CRL, X509_CRL_free(p))
CMI_OSSL_FREE(X509_STORE, X509_STORE_free(p))
CMI_OSSL_FREE(X509_STORE_CTX, X509_STORE_CTX_free(p))
CMI_OSSL_FREE(stack_st_X509, sk_X509_pop_free(p, X509_free))
CMI_OSSL_FREE(stack_st_X509_CRL, sk_X509_CRL_pop_free(p, X509_CRL_free))
CMI_OSSL_FREE(stack_st_ASN1_OBJECT, sk_ASN1_OBJECT_pop_free(p, ASN1_OBJECT_free))
CMI_OSSL_FREE(stack_st_GENERAL_NAME, GENERAL_NAMES_free(p))
CMI_OSSL_FREE(char, OPENSSL_free(p))
CMI_OSSL_FREE(unsigned char, OPENSSL_free(p))
#undef CMI_OSSL_FREE

UniquePtr<BIO> memory_bio(std::string_view data) {
    if (data.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
    return UniquePtr<BIO>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

UniquePtr<BIO> file_bio(const std::string& path) {
    UniquePtr<BIO> bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) ERR_clear_error();
    return bio;
}

UniquePtr<BIO> readable_file_bio(const std::string& path) {
    UniquePtr<BIO> bio = file_bio(path);
    if (!bio) throw std::runtime_error("cannot read '" + path + "'");
    return bio;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 && data ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace cmi::ossl

#include "test_pki.hpp"

#include "libcmi/ossl.hpp"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <stdexcept>
#include <unistd.h>

namespace testpki {
namespace {
void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(what);
}
void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    const std::unique_ptr<X509_EXTENSION, void (*)(X509_EXTENSION*)> ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, nid, value), X509_EXTENSION_free);
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert, ext.get(), -1);
}
std::shared_ptr<X509> new_cert(const std::string& cn, EVP_PKEY* key, int nb_days, int na_days) {
    std::shared_ptr<X509> cert{cmi::ossl::UniquePtr<X509>(X509_new())};
    X509_set_version(cert.get(), 2);
    static long serial = 1;
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++ + getpid());
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), long(nb_days) * 86400);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), long(na_days) * 86400);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("mod_cmi unit"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_pubkey(cert.get(), key);
    return cert;
}
// DER of a CMS SignedData over data, signed with `flags`, carrying `extra` certificates too.
std::string cms_with_flags(const std::string& data, const Cred& signer, const EVP_MD* md, unsigned flags,
                           const std::vector<X509*>& extra) {
    const auto in = cmi::ossl::memory_bio(data);
    const cmi::ossl::UniquePtr<CMS_ContentInfo> cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
    check(cms != nullptr, "CMS_sign");
    check(CMS_add1_signer(cms.get(), signer.cert.get(), signer.key.get(), md, flags) != nullptr, "CMS_add1_signer");
    for (X509* x : extra) check(CMS_add1_cert(cms.get(), x) == 1, "CMS_add1_cert");
    check(CMS_final(cms.get(), in.get(), nullptr, flags) == 1, "CMS_final");
    return cmi::ossl::to_der(i2d_CMS_ContentInfo, cms.get());
}

std::shared_ptr<EVP_PKEY> owned(EVP_PKEY* key) { return std::shared_ptr<EVP_PKEY>(cmi::ossl::Pkey(key)); }
}  // namespace

std::shared_ptr<EVP_PKEY> ec_key(const char* curve) { return owned(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve)); }
std::shared_ptr<EVP_PKEY> ed25519_key() { return owned(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); }
std::shared_ptr<EVP_PKEY> rsa_key(int bits) {
    return owned(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
}

std::string private_key_pem(EVP_PKEY* key) {
    const cmi::ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    check(bio && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "PEM_write_bio_PrivateKey");
    return cmi::ossl::bio_text(bio.get());
}

Cred make_ca(const std::string& cn, int nb) {
    Cred c{ec_key(), nullptr};
    c.cert = new_cert(cn, c.key.get(), nb, 30);
    X509_set_issuer_name(c.cert.get(), X509_get_subject_name(c.cert.get()));
    add_ext(c.cert.get(), c.cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c.cert.get(), c.cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(c.cert.get(), c.cert.get(), NID_subject_key_identifier, "hash");
    check(X509_sign(c.cert.get(), c.key.get(), EVP_sha256()) > 0, "X509_sign");
    return c;
}

Cred issue(const Cred& ca, const std::string& cn, int nb, int na, bool signing_ku, const char* eku,
           std::shared_ptr<EVP_PKEY> key) {
    Cred c{key ? key : ec_key(), nullptr};
    c.cert = new_cert(cn, c.key.get(), nb, na);
    X509_set_issuer_name(c.cert.get(), X509_get_subject_name(ca.cert.get()));
    add_ext(c.cert.get(), ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(c.cert.get(), ca.cert.get(), NID_key_usage,
            signing_ku ? "critical,digitalSignature,nonRepudiation" : "critical,keyAgreement");
    if (eku) add_ext(c.cert.get(), ca.cert.get(), NID_ext_key_usage, eku);
    add_ext(c.cert.get(), ca.cert.get(), NID_authority_key_identifier, "keyid");
    check(X509_sign(c.cert.get(), ca.key.get(), EVP_sha256()) > 0, "X509_sign");
    return c;
}

Cred issue_ca(const Cred& parent, const std::string& cn) {
    Cred c{ec_key(), nullptr};
    c.cert = new_cert(cn, c.key.get(), -1, 30);
    X509_set_issuer_name(c.cert.get(), X509_get_subject_name(parent.cert.get()));
    add_ext(c.cert.get(), parent.cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c.cert.get(), parent.cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(c.cert.get(), parent.cert.get(), NID_subject_key_identifier, "hash");
    add_ext(c.cert.get(), parent.cert.get(), NID_authority_key_identifier, "keyid");
    check(X509_sign(c.cert.get(), parent.key.get(), EVP_sha256()) > 0, "X509_sign");
    return c;
}

std::string cms_sign_with(const std::string& data, const Cred& signer, const std::vector<X509*>& extra) {
    return cms_with_flags(data, signer, EVP_sha256(), CMS_BINARY | CMS_PARTIAL | CMS_DETACHED, extra);
}

std::string write_pem(const std::string& stem, const X509* cert) {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string(tmp ? tmp : "/tmp") + "/cmi-unit-" + stem + "-" + std::to_string(getpid()) + ".pem";
    const cmi::ossl::UniquePtr<BIO> bio(BIO_new_file(path.c_str(), "w"));
    check(bio != nullptr, "BIO_new_file");
    PEM_write_bio_X509(bio.get(), cert);
    return path;
}

std::string cms_sign(const std::string& data, const Cred& signer, const EVP_MD* md, bool detached, bool include_cert) {
    const unsigned flags = CMS_BINARY | CMS_PARTIAL | (detached ? CMS_DETACHED : 0) | (include_cert ? 0 : CMS_NOCERTS);
    return cms_with_flags(data, signer, md, flags, {});
}

}  // namespace testpki

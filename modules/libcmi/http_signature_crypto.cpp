#include "libcmi/http_signature_crypto.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <stdexcept>

namespace cmi::httpsig {
namespace {

bool ec_curve_is(EVP_PKEY* key, const char* curve) {
    char name[64] = {0};
    size_t len = 0;
    return EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_group_name(key, name, sizeof name, &len) == 1 &&
           std::strcmp(name, curve) == 0;
}

bool fits(Alg alg, EVP_PKEY* key) {
    switch (alg) {
    case Alg::ed25519: return EVP_PKEY_is_a(key, "ED25519");
    case Alg::ecdsa_p256_sha256: return ec_curve_is(key, "prime256v1");
    case Alg::ecdsa_p384_sha384: return ec_curve_is(key, "secp384r1");
    case Alg::rsa_pss_sha512:
    case Alg::rsa_v1_5_sha256: return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;
    }
    return false;
}

bool is_ecdsa(Alg alg) { return alg == Alg::ecdsa_p256_sha256 || alg == Alg::ecdsa_p384_sha384; }

// Bytes of r (and of s) in an ECDSA signature's raw form.
size_t ecdsa_half(Alg alg) { return alg == Alg::ecdsa_p256_sha256 ? 32 : 48; }

// The digest alg signs through (Ed25519 signs the message itself: nullptr).
const EVP_MD* md_of(Alg alg) {
    switch (alg) {
    case Alg::ed25519: return nullptr;
    case Alg::ecdsa_p256_sha256:
    case Alg::rsa_v1_5_sha256: return EVP_sha256();
    case Alg::ecdsa_p384_sha384: return EVP_sha384();
    case Alg::rsa_pss_sha512: return EVP_sha512();
    }
    return nullptr;
}

// RSA padding as the registry names it: PSS with SHA-512 MGF1 and a 64-byte salt, or PKCS#1 v1.5.
bool set_padding(Alg alg, EVP_PKEY_CTX* pctx) {
    if (alg == Alg::rsa_pss_sha512)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
               EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha512()) == 1 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 64) == 1;
    if (alg == Alg::rsa_v1_5_sha256) return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    return true;
}

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

std::optional<std::string> raw_ecdsa_to_der(std::string_view sig, size_t half) {
    if (sig.size() != 2 * half) return std::nullopt;
    ossl::UniquePtr<ECDSA_SIG> es(ECDSA_SIG_new());
    ossl::UniquePtr<BIGNUM> r(BN_bin2bn(bytes(sig), static_cast<int>(half), nullptr));
    ossl::UniquePtr<BIGNUM> s(BN_bin2bn(bytes(sig.substr(half)), static_cast<int>(half), nullptr));
    if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r.get(), s.get()) != 1) return std::nullopt;
    r.release();  // es owns them now
    s.release();
    std::string der = ossl::to_der(i2d_ECDSA_SIG, es.get());
    if (der.empty()) return std::nullopt;
    return der;
}

ossl::Pkey public_key_from_pem(std::string_view pem) {
    const auto bio = ossl::memory_bio(pem);
    ossl::Pkey key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key) {  // a certificate
        const auto again = ossl::memory_bio(pem);
        const ossl::UniquePtr<X509> cert(again ? PEM_read_bio_X509(again.get(), nullptr, nullptr, nullptr) : nullptr);
        if (cert) key.reset(X509_get_pubkey(cert.get()));
    }
    ERR_clear_error();
    return key;
}

std::string read_key_file(const std::string& pem_file) {
    const auto bio = ossl::file_bio(pem_file);
    if (!bio) return {};
    std::string pem;
    char buf[4096];
    int n;
    while ((n = BIO_read(bio.get(), buf, sizeof buf)) > 0 && pem.size() < 1 << 20) pem.append(buf, static_cast<size_t>(n));
    return pem;
}

ossl::Pkey load_public_key(const std::string& pem_file) { return public_key_from_pem(read_key_file(pem_file)); }

void check_signer_key(std::string_view pem, EVP_PKEY* key, std::time_t now, const std::string& keyid,
                      const KeyPurposes* purposes, const RevocationList* crls) {
    const std::string who = "the key of keyid '" + keyid + "'";
    check_key_strength(key, who);
    const auto bio = ossl::memory_bio(pem);
    if (!bio) throw std::runtime_error("out of memory");
    const ossl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    if (!cert) return;  // a bare public key
    const std::string of = "the certificate of keyid '" + keyid + "'";
    if (X509_cmp_time(X509_get0_notBefore(cert.get()), &now) > 0)
        throw ValidationError("signer-untrusted", of + " is not yet valid");
    if (X509_cmp_time(X509_get0_notAfter(cert.get()), &now) < 0)
        throw ValidationError("signer-untrusted", of + " has expired");
    if ((X509_get_extension_flags(cert.get()) & EXFLAG_KUSAGE) &&
        !(X509_get_key_usage(cert.get()) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
        throw ValidationError("signer-untrusted", of + " does not allow digital signatures (key usage)");
    check_key_purpose(cert.get(), purposes, of);
    if (crls) check_pinned_revocation(cert.get(), *crls, now, of);
}

Alg resolve_alg(const std::optional<Alg>& declared, EVP_PKEY* key) {
    if (declared) {
        if (!fits(*declared, key))
            throw ValidationError("signature-invalid",
                                  std::string("the key does not fit signature algorithm ") + alg_name(*declared));
        return *declared;
    }
    for (Alg a : {Alg::ed25519, Alg::ecdsa_p256_sha256, Alg::ecdsa_p384_sha384})
        if (fits(a, key)) return a;
    throw ValidationError("signature-malformed", "Signature-Input needs an alg parameter for this key type");
}

bool verify_base(Alg alg, EVP_PKEY* key, std::string_view base, std::string_view sig) {
    if (!fits(alg, key)) return false;
    std::string der;
    if (is_ecdsa(alg)) {
        auto d = raw_ecdsa_to_der(sig, ecdsa_half(alg));
        if (!d) return false;
        der = std::move(*d);
        sig = der;
    }
    const ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, md_of(alg), nullptr, key) == 1 &&
                    set_padding(alg, pctx) &&
                    EVP_DigestVerify(ctx.get(), bytes(sig), sig.size(), bytes(base), base.size()) == 1;
    ERR_clear_error();
    return ok;
}

std::string sign_base(Alg alg, EVP_PKEY* key, std::string_view base) {
    if (!fits(alg, key)) throw std::runtime_error(std::string("the key does not fit ") + alg_name(alg));
    const ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    size_t n = 0;
    bool ok = ctx && EVP_DigestSignInit(ctx.get(), &pctx, md_of(alg), nullptr, key) == 1 && set_padding(alg, pctx) &&
              EVP_DigestSign(ctx.get(), nullptr, &n, bytes(base), base.size()) == 1;
    std::string sig(n, '\0');
    ok = ok && EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, bytes(base), base.size()) == 1;
    if (!ok) throw std::runtime_error("signing failed");
    sig.resize(n);
    if (!is_ecdsa(alg)) return sig;
    const int half = static_cast<int>(ecdsa_half(alg));
    const unsigned char* p = bytes(sig);
    const ossl::UniquePtr<ECDSA_SIG> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    if (!es) throw std::runtime_error("signing failed");
    std::string raw(static_cast<size_t>(2 * half), '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), reinterpret_cast<unsigned char*>(raw.data()), half);
    BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), reinterpret_cast<unsigned char*>(raw.data() + half), half);
    return raw;
}

ossl::Pkey load_private_key(const std::string& pem_file) {
    const auto bio = ossl::file_bio(pem_file);
    ossl::Pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    ERR_clear_error();
    return key;
}

}  // namespace cmi::httpsig

#include "libcmi/signer.hpp"

#include "libcmi/sha256.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace cmi {
namespace {

ossl::UniquePtr<BIO> mem_bio(std::string_view pem) {
    if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) throw std::runtime_error("key too large");
    ossl::UniquePtr<BIO> bio = ossl::memory_bio(pem);
    if (!bio) throw std::runtime_error("out of memory");
    return bio;
}

// The key `read` (a PEM_read_bio_* function, or one like it) finds in `pem`; nullptr if none.
template <class Read>
ossl::Pkey read_pem(std::string_view pem, Read read) {
    const auto bio = mem_bio(pem);
    return ossl::Pkey(read(bio.get(), nullptr, nullptr, nullptr));
}

EVP_PKEY* read_certificate_key(BIO* bio, EVP_PKEY**, pem_password_cb*, void*) {
    const ossl::UniquePtr<X509> cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
    return cert ? X509_get_pubkey(cert.get()) : nullptr;
}

// "ed25519" or "ecdsa-p256-sha256"; throws for other keys.
std::string algorithm_of(EVP_PKEY* key) {
    if (EVP_PKEY_is_a(key, "ED25519")) return "ed25519";
    if (EVP_PKEY_is_a(key, "EC")) {
        char group[64] = "";
        std::size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len) == 1 &&
            (std::string(group) == "prime256v1" || std::string(group) == "P-256"))
            return "ecdsa-p256-sha256";
        throw std::runtime_error(std::string("EC key on curve ") + group + " is not supported; use P-256");
    }
    throw std::runtime_error("unsupported key type: use an Ed25519 or ECDSA P-256 key");
}

const EVP_MD* md_for(const std::string& alg) { return alg == "ed25519" ? nullptr : EVP_sha256(); }

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

std::string key_id(EVP_PKEY* key) {
    const std::string der = ossl::to_der(i2d_PUBKEY, key);
    if (der.empty()) throw std::runtime_error("cannot encode the public key");
    return sha256_hex(der);
}

Signer Signer::from_pem(std::string_view pem) {
    Signer s;
    s.key_ = read_pem(pem, PEM_read_bio_PrivateKey);
    if (!s.key_) throw std::runtime_error("not a PEM private key (or it is encrypted)");
    s.alg_ = algorithm_of(s.key_.get());
    s.keyid_ = key_id(s.key_.get());
    return s;
}

Signer Signer::from_pem_file(const std::string& path) { return from_pem(read_file(path)); }

std::vector<unsigned char> Signer::sign(std::string_view message) const {
    const ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md_for(alg_), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1)
        throw std::runtime_error("signing failed");
    std::vector<unsigned char> sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1)
        throw std::runtime_error("signing failed");
    sig.resize(len);
    return sig;
}

std::string Signer::public_pem() const {
    const ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) throw std::runtime_error("cannot write public key");
    return ossl::bio_text(bio.get());
}

SignatureVerifier SignatureVerifier::from_pem(std::string_view pem) {
    SignatureVerifier v;
    v.key_ = read_pem(pem, PEM_read_bio_PUBKEY);
    if (!v.key_) v.key_ = read_pem(pem, read_certificate_key);
    if (!v.key_) v.key_ = read_pem(pem, PEM_read_bio_PrivateKey);
    if (!v.key_) throw std::runtime_error("not a PEM public key, certificate or private key");
    v.alg_ = algorithm_of(v.key_.get());
    v.keyid_ = key_id(v.key_.get());
    return v;
}

SignatureVerifier SignatureVerifier::from_pem_file(const std::string& path) { return from_pem(read_file(path)); }

bool SignatureVerifier::verify(std::string_view message, const std::vector<unsigned char>& sig) const {
    const ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md_for(alg_), nullptr, key_.get()) != 1) return false;
    return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), reinterpret_cast<const unsigned char*>(message.data()),
                            message.size()) == 1;
}

}  // namespace cmi

// Signatures for audit checkpoints and receipts: Ed25519 or ECDSA P-256
// (SHA-256, DER signature), through OpenSSL EVP.
//
// Ed25519 signs the message itself; ECDSA signs SHA-256(message). So with
// OpenSSL alone:
//   Ed25519: openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg -sigfile sig
//   P-256:   openssl dgst -sha256 -verify pub.pem -signature sig msg
#pragma once
#include "libcmi/ossl.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace cmi {

class Signer {
public:
    // A PEM private key (PKCS#8 or traditional). Throws std::runtime_error
    // for anything but Ed25519 or EC P-256.
    static Signer from_pem(std::string_view pem);
    static Signer from_pem_file(const std::string& path);

    std::vector<unsigned char> sign(std::string_view message) const;
    const std::string& algorithm() const { return alg_; }  // "ed25519" | "ecdsa-p256-sha256"
    const std::string& keyid() const { return keyid_; }
    std::string public_pem() const;

private:
    ossl::Pkey key_;
    std::string alg_, keyid_;
};

class SignatureVerifier {
public:
    // A PEM public key, certificate or private key (its public half).
    static SignatureVerifier from_pem(std::string_view pem);
    static SignatureVerifier from_pem_file(const std::string& path);

    bool verify(std::string_view message, const std::vector<unsigned char>& sig) const;
    const std::string& algorithm() const { return alg_; }
    const std::string& keyid() const { return keyid_; }

private:
    ossl::Pkey key_;
    std::string alg_, keyid_;
};

// The key id: hex SHA-256 of the DER SubjectPublicKeyInfo.
std::string key_id(EVP_PKEY* key);

}  // namespace cmi

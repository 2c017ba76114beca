// Streaming message digests named as in RFC 9530 (the HTTP Digest Algorithm
// Values registry): only the algorithms mod_cmi accepts exist here.
#pragma once
#include "libcmi/ossl.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cmi {

enum class DigestAlg { sha256, sha512 };

// "sha-256" / "sha-512" (case-sensitive, as RFC 9530 keys are); nullopt otherwise.
std::optional<DigestAlg> digest_alg_from_name(std::string_view name);
const char* digest_alg_name(DigestAlg alg);
const EVP_MD* digest_alg_md(DigestAlg alg);
size_t digest_alg_size(DigestAlg alg);

// Hashes data as it streams past; never keeps a copy of it.
class StreamingDigest {
public:
    explicit StreamingDigest(DigestAlg alg);
    StreamingDigest(const StreamingDigest&) = delete;
    StreamingDigest& operator=(const StreamingDigest&) = delete;

    void update(const void* data, size_t len);
    // The raw digest; the object cannot be updated afterwards.
    std::string finish();
    DigestAlg alg() const { return alg_; }
    unsigned long long bytes() const { return bytes_; }

private:
    DigestAlg alg_;
    ossl::UniquePtr<EVP_MD_CTX> ctx_;
    unsigned long long bytes_ = 0;
    bool finished_ = false;
};

// One-shot digest of a buffer.
std::string digest_of(DigestAlg alg, std::string_view data);

// The RFC 9530 member form: `sha-256=:base64:`.
std::string content_digest_member(DigestAlg alg, std::string_view raw_digest);

// Constant-time equality of two digests (false when the lengths differ).
bool digest_equal(std::string_view a, std::string_view b);

}  // namespace cmi

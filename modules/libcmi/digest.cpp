#include "libcmi/digest.hpp"

#include "libcmi/base64.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <stdexcept>

namespace cmi {

std::optional<DigestAlg> digest_alg_from_name(std::string_view name) {
    if (name == "sha-256") return DigestAlg::sha256;
    if (name == "sha-512") return DigestAlg::sha512;
    return std::nullopt;
}

const char* digest_alg_name(DigestAlg alg) { return alg == DigestAlg::sha256 ? "sha-256" : "sha-512"; }

const EVP_MD* digest_alg_md(DigestAlg alg) { return alg == DigestAlg::sha256 ? EVP_sha256() : EVP_sha512(); }

size_t digest_alg_size(DigestAlg alg) { return alg == DigestAlg::sha256 ? 32 : 64; }

StreamingDigest::StreamingDigest(DigestAlg alg) : alg_(alg), ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), digest_alg_md(alg), nullptr) != 1)
        throw std::runtime_error("EVP_DigestInit_ex failed");
}

void StreamingDigest::update(const void* data, size_t len) {
    if (finished_) throw std::logic_error("digest already finished");
    if (len && EVP_DigestUpdate(ctx_.get(), data, len) != 1) throw std::runtime_error("EVP_DigestUpdate failed");
    bytes_ += len;
}

std::string StreamingDigest::finish() {
    if (finished_) throw std::logic_error("digest already finished");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &n) != 1) throw std::runtime_error("EVP_DigestFinal_ex failed");
    finished_ = true;
    return std::string(reinterpret_cast<char*>(md), n);
}

std::string digest_of(DigestAlg alg, std::string_view data) {
    StreamingDigest d(alg);
    d.update(data.data(), data.size());
    return d.finish();
}

std::string content_digest_member(DigestAlg alg, std::string_view raw_digest) {
    return std::string(digest_alg_name(alg)) + "=:" + base64_encode(raw_digest) + ":";
}

bool digest_equal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace cmi

// Validated-assertion cache: a bearer assertion presented again (a client
// reusing its token) skips the XML-DSig work. Per process, in memory: a
// shared store would let whoever can write to it mint identities.
#pragma once
#include "libcmi/saml_assertion.hpp"

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace cmi::saml {

class ValidatedCache {
public:
    explicit ValidatedCache(std::size_t capacity) : capacity_(capacity) {}

    // The key binds the document to everything its validation depended on:
    // the policy (audience, recipients, holder-of-key certificate, user
    // attribute, skew) and the trusted IdP set.
    static std::string key(std::string_view xml, const Policy& p, const TrustedIdps& idps);

    // The identity validated earlier, if it has not expired by `now`.
    std::optional<Identity> find(const std::string& key, std::int64_t now);
    // Keeps `id` until `expires` (seconds since the epoch).
    void put(const std::string& key, const Identity& id, std::int64_t expires);

private:
    struct Entry {
        Identity identity;
        std::int64_t expires;
    };
    std::size_t capacity_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::deque<std::string> order_;  // insertion order, for eviction
};

// validate(), but answered from `cache` when the same document was validated
// under the same policy and is still within its validity. `cached` says which.
Result validate_cached(std::string_view xml, const TrustedIdps& idps, const Policy& policy, ValidatedCache& cache,
                       bool& cached);

}  // namespace cmi::saml

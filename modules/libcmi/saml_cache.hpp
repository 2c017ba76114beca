// Validated-assertion cache: a bearer assertion presented again (a client
// reusing its token) skips the XML-DSig work. Per process, in memory: a
// shared store would let whoever can write to it mint identities. Bounded in
// entries and in bytes (an assertion can carry hundreds of attribute values).
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
    ValidatedCache(std::size_t capacity, std::size_t max_bytes = 4u << 20)
        : capacity_(capacity), max_bytes_(max_bytes) {}

    // The key binds the document to everything its validation depended on:
    // the configuration's part of the policy (audience, holder-of-key
    // certificate, user attribute, skew) and the trusted IdP set — never the
    // request's URL (recipients), which a client varies at will.
    static std::string key(std::string_view xml, const Policy& p, const TrustedIdps& idps);
    // The bytes an entry takes, roughly (strings, their heap blocks, the map node).
    static std::size_t footprint(const std::string& key, const Identity& id);

    // The identity validated earlier, if it has not expired by `now`.
    std::optional<Identity> find(const std::string& key, std::int64_t now);
    // Keeps `id` until `expires` (seconds since the epoch).
    void put(const std::string& key, const Identity& id, std::int64_t expires);

    std::size_t bytes() const { return bytes_; }
    std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        Identity identity;
        std::int64_t expires;
        std::size_t bytes;
    };
    void drop(std::unordered_map<std::string, Entry>::iterator it);
    std::size_t capacity_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::deque<std::string> order_;  // insertion order, for eviction
};

// validate(), but the document's part answered from `cache` when the same
// document was validated under the same configuration and is still within
// its validity; the request's part (bind_to_request) is checked every time.
// `cached` says which.
Result validate_cached(std::string_view xml, const TrustedIdps& idps, const Policy& policy, ValidatedCache& cache,
                       bool& cached);

}  // namespace cmi::saml

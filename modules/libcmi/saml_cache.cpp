#include "libcmi/saml_cache.hpp"

#include "libcmi/sha256.hpp"

namespace cmi::saml {
namespace {

// SHA-256 over length-prefixed fields, so no two field lists collide.
class KeyHash {
public:
    void add(std::string_view s) {
        const std::uint64_t n = s.size();
        h_.update(&n, sizeof n);
        h_.update(s);
    }
    std::string finish() {
        const auto d = h_.finish();
        return std::string(reinterpret_cast<const char*>(d.data()), d.size());
    }

private:
    Sha256 h_;
};

}  // namespace

std::string ValidatedCache::key(std::string_view xml, const Policy& p, const TrustedIdps& idps) {
    KeyHash h;
    // Not the recipients: they come from the request's URL (which a client
    // varies at will) and are checked on every use by bind_to_request.
    h.add(xml);
    h.add(p.sp_entity_id);
    h.add(p.holder_of_key ? "hok" : "bearer");
    h.add(p.client_cert_der);
    h.add(p.user_attribute);
    h.add(std::to_string(p.skew));
    // The trust set of this process's configuration: the same object, the same keys.
    const auto addr = reinterpret_cast<std::uintptr_t>(&idps);
    h.add(std::string_view(reinterpret_cast<const char*>(&addr), sizeof addr));
    return h.finish();
}

std::size_t ValidatedCache::footprint(const std::string& key, const Identity& id) {
    constexpr std::size_t kString = 32;  // a std::string and its heap block's overhead
    std::size_t n = 2 * key.size() + 3 * kString + 96;  // key in the map and the queue, node, entry
    for (const std::string* s : {&id.user, &id.name_id, &id.assertion_id, &id.issuer})
        n += s->size() + kString;
    for (const auto& [name, value] : id.attributes) n += name.size() + value.size() + 2 * kString;
    for (const auto& c : id.confirmations) n += sizeof c + (c.recipient ? c.recipient->size() : 0);
    if (id.destination) n += id.destination->size() + kString;
    return n + sizeof(Identity);
}

void ValidatedCache::drop(std::unordered_map<std::string, Entry>::iterator it) {
    bytes_ -= it->second.bytes;
    entries_.erase(it);
}

std::optional<Identity> ValidatedCache::find(const std::string& key, std::int64_t now) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    if (now >= it->second.expires) {
        drop(it);
        return std::nullopt;
    }
    return it->second.identity;
}

void ValidatedCache::put(const std::string& key, const Identity& id, std::int64_t expires) {
    if (!capacity_) return;
    const std::size_t size = footprint(key, id);
    if (size > max_bytes_ / 4) return;  // one document must not push out a quarter of the cache
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.count(key)) return;
    while ((entries_.size() >= capacity_ || bytes_ + size > max_bytes_) && !order_.empty()) {
        if (auto it = entries_.find(order_.front()); it != entries_.end()) drop(it);
        order_.pop_front();
    }
    // order_ may name keys already dropped as expired: harmless, erase is a no-op.
    if (order_.size() > 2 * capacity_) {
        std::deque<std::string> live;
        for (auto& k : order_)
            if (entries_.count(k)) live.push_back(std::move(k));
        order_.swap(live);
    }
    entries_.emplace(key, Entry{id, expires, size});
    bytes_ += size;
    order_.push_back(key);
}

Result validate_cached(std::string_view xml, const TrustedIdps& idps, const Policy& policy, ValidatedCache& cache,
                       bool& cached) {
    const std::string k = ValidatedCache::key(xml, policy, idps);
    Result r;
    if (auto id = cache.find(k, policy.now)) {
        cached = true;
        r = Result{true, {}, std::move(*id)};
    } else {
        cached = false;
        r = validate_document(xml, idps, policy);
        if (!r.ok) return r;
        // Until the latest NotOnOrAfter it could be used with (plus the skew);
        // each use checks its own confirmation's time and Recipient again.
        cache.put(k, r.identity, r.identity.not_on_or_after + policy.skew);
    }
    r.error = bind_to_request(r.identity, policy);
    r.ok = r.error.empty();
    return r;
}

}  // namespace cmi::saml

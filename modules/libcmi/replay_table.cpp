#include "libcmi/replay_table.hpp"

#include "libcmi/ossl.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace cmi::replay {

Digest replay_key(std::string_view salt, std::string_view key) {
    Digest out{};
    const ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    unsigned int len = 0;
    const unsigned char sep = 0;
    const bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx.get(), salt.data(), salt.size()) == 1 &&
                    EVP_DigestUpdate(ctx.get(), &sep, 1) == 1 &&
                    EVP_DigestUpdate(ctx.get(), key.data(), key.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size();
    if (!ok) throw std::runtime_error("SHA-256 failed");
    return out;
}

namespace {

constexpr std::uint64_t kMagic = 0x31304c5052494d43ULL;       // "CMIRPL01"
constexpr char kFileMagic[8] = {'C', 'M', 'I', 'R', 'P', 'S', '0', '1'};
constexpr unsigned kSlotsPerBucket = 8;
constexpr unsigned kOwnerBuckets = 6;  // expiry buckets per owner
constexpr unsigned kOwnerProbe = 8;    // share slots an owner may land in
constexpr std::size_t kKeyLen = 16;  // of the salted SHA-256: enough against collisions

std::uint32_t le32(const unsigned char* p) {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

// Little-endian fields for the saved state.
class Writer {
public:
    void bytes(const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); }
    void u32(std::uint32_t v) {
        for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
    }
    void u64(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
    }
    void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
    std::string out;
};

class Reader {
public:
    explicit Reader(std::string_view s) : s_(s) {}
    bool bytes(void* p, std::size_t n) {
        if (s_.size() - pos_ < n) return false;
        std::memcpy(p, s_.data() + pos_, n);
        pos_ += n;
        return true;
    }
    bool u32(std::uint32_t& v) {
        unsigned char b[4];
        if (!bytes(b, 4)) return false;
        v = le32(b);
        return true;
    }
    bool u64(std::uint64_t& v) {
        unsigned char b[8];
        if (!bytes(b, 8)) return false;
        v = 0;
        for (int i = 7; i >= 0; --i) v = v << 8 | b[i];
        return true;
    }
    bool i64(std::int64_t& v) {
        std::uint64_t u;
        if (!u64(u)) return false;
        v = static_cast<std::int64_t>(u);
        return true;
    }
    std::size_t left() const { return s_.size() - pos_; }

private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

}  // namespace

struct Table::Header {
    std::uint64_t magic;
    char label[32];
    Geometry geometry;
    std::uint32_t quota;
    std::uint32_t generation;
    std::int64_t unknown_before;
    unsigned char salt[32];
    pthread_mutex_t lock;
};

struct Table::Slot {
    unsigned char key[kKeyLen];
    std::int64_t expiry;  // 0 or past: free
    std::uint64_t high;   // the highest count seen (windows)
    std::uint64_t seen;   // bit i: count high - i was seen
};

struct Table::Owner {
    std::uint64_t tag;  // 0: never used
    struct Bucket {
        std::int64_t until;   // the latest expiry counted here
        std::uint32_t count;
        std::uint32_t span;   // seconds from the earliest expiry counted here to `until`
        std::int64_t since() const { return until - std::int64_t{span} * 1000000; }
    } b[kOwnerBuckets];

    void expire(std::int64_t now) {
        for (auto& x : b)
            if (x.count && x.until <= now) x = {};
    }
    std::uint32_t live(std::int64_t now) const {
        std::uint32_t n = 0;
        for (const auto& x : b)
            if (x.count && x.until > now) n += x.count;
        return n;
    }
    // Puts one more entry expiring at `expiry` into a bucket that lives at
    // least as long: one already reaching that far, else the latest if it
    // spans no more than a fifth of the entry's life, else a free one, else
    // (all in use) the latest, stretched. Returns its index.
    int add(std::int64_t expiry, std::int64_t now) {
        int latest = -1, free = -1, fit = -1;
        for (int i = 0; i < static_cast<int>(kOwnerBuckets); ++i) {
            if (!b[i].count) {
                if (free < 0) free = i;
                continue;
            }
            if (latest < 0 || b[i].until > b[latest].until) latest = i;
            if (b[i].until >= expiry && (fit < 0 || b[i].until < b[fit].until)) fit = i;
        }
        int pick;
        if (fit >= 0) pick = fit;
        else if (latest >= 0 && expiry - b[latest].since() <= (expiry - now) / (kOwnerBuckets - 1)) pick = latest;
        else if (free >= 0) pick = free;
        else pick = latest;
        Bucket& x = b[pick];
        const std::int64_t since = x.count ? std::min(x.since(), expiry) : expiry;
        x.until = std::max(x.count ? x.until : expiry, expiry);
        x.span = static_cast<std::uint32_t>(std::min<std::int64_t>((x.until - since + 999999) / 1000000, UINT32_MAX));
        ++x.count;
        return pick;
    }
    std::int64_t next_expiry() const {
        std::int64_t t = 0;
        for (const auto& x : b)
            if (x.count && (!t || x.until < t)) t = x.until;
        return t;
    }
};

// The table's robust mutex: a process that died holding it leaves it usable.
class Table::Lock {
public:
    explicit Lock(Header* h) : h_(h) {
        int rc = pthread_mutex_lock(&h_->lock);
        if (rc == EOWNERDEAD) rc = pthread_mutex_consistent(&h_->lock);
        ok_ = rc == 0;
    }
    ~Lock() {
        if (ok_) pthread_mutex_unlock(&h_->lock);
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    bool ok() const { return ok_; }

private:
    Header* h_;
    bool ok_;
};

std::size_t Table::bytes(const Geometry& g) {
    const std::size_t header = (sizeof(Header) + 63) / 64 * 64;
    return header + std::size_t{g.buckets} * kSlotsPerBucket * sizeof(Slot) + std::size_t{g.owners} * sizeof(Owner);
}

Geometry Table::fit(std::size_t bytes) {
    const std::size_t header = (sizeof(Header) + 63) / 64 * 64;
    if (bytes <= header) return {};
    const std::size_t per = kSlotsPerBucket * sizeof(Slot) + sizeof(Owner);
    const std::size_t n = std::min<std::size_t>((bytes - header) / per, 1u << 28);
    return {static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(n)};
}

Table Table::format(void* mem, const Geometry& g, std::uint32_t quota, const unsigned char (&random)[36],
                    std::string_view label, std::int64_t unknown_before) {
    if (!mem || !g.owners || !quota) throw std::invalid_argument("replay table: bad geometry");
    if (label.size() >= sizeof(Header::label)) throw std::invalid_argument("replay table: label too long");
    std::memset(mem, 0, bytes(g));
    auto* h = static_cast<Header*>(mem);
    std::memcpy(h->label, label.data(), label.size());
    h->geometry = g;
    h->quota = quota;
    std::memcpy(h->salt, random, sizeof h->salt);
    h->generation = le32(random + 32);
    if (!h->generation) h->generation = 1;
    h->unknown_before = unknown_before;
    Table t(h);
    t.reset_lock();
    h->magic = kMagic;
    return t;
}

void Table::reset_lock() {
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0 || pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0 || pthread_mutex_init(&h_->lock, &attr) != 0)
        throw std::runtime_error("replay table: cannot make its lock");
    pthread_mutexattr_destroy(&attr);
}

Table Table::attach(void* mem) {
    auto* h = static_cast<Header*>(mem);
    if (!h || h->magic != kMagic) throw std::invalid_argument("replay table: not formatted");
    return Table(h);
}

std::optional<Table> Table::attach_if(void* mem, std::size_t n, std::string_view label) {
    auto* h = static_cast<Header*>(mem);
    if (!h || n < sizeof(Header) || h->magic != kMagic) return std::nullopt;
    if (std::string_view(h->label, strnlen(h->label, sizeof h->label)) != label) return std::nullopt;
    if (!h->geometry.owners || !h->quota || bytes(h->geometry) != n) return std::nullopt;
    return Table(h);
}

std::optional<std::string> Table::label_of(const void* mem, std::size_t n) {
    const auto* h = static_cast<const Header*>(mem);
    if (!h || n < sizeof(Header) || h->magic != kMagic) return std::nullopt;
    return std::string(h->label, strnlen(h->label, sizeof h->label));
}

std::string_view Table::label() const { return {h_->label, strnlen(h_->label, sizeof h_->label)}; }

const Geometry& Table::geometry() const { return h_->geometry; }
std::uint32_t Table::quota() const { return h_->quota; }
std::uint32_t Table::generation() const { return h_->generation; }
std::int64_t Table::unknown_before() const { return h_->unknown_before; }
std::string_view Table::salt() const { return {reinterpret_cast<const char*>(h_->salt), sizeof h_->salt}; }

Table::Slot* Table::bucket(std::uint32_t i) const {
    auto* base = reinterpret_cast<unsigned char*>(h_) + (sizeof(Header) + 63) / 64 * 64;
    return reinterpret_cast<Slot*>(base) + std::size_t{i} * kSlotsPerBucket;
}

Table::Owner* Table::owner_slot(std::uint32_t i) const {
    return reinterpret_cast<Owner*>(bucket(h_->geometry.buckets)) + i;
}

std::uint64_t Table::owner_tag(std::string_view owner) const {
    const Digest d = replay_key(std::string(salt()) + "owner", owner);
    std::uint64_t t = 0;
    std::memcpy(&t, d.data(), sizeof t);
    return t ? t : 1;
}

namespace {
// The two buckets a key may live in.
std::pair<std::uint32_t, std::uint32_t> buckets_of(const unsigned char* key, std::uint32_t n) {
    const std::uint32_t a = le32(key) % n;
    std::uint32_t b = le32(key + 4) % n;
    if (b == a && n > 1) b = (a + 1) % n;
    return {a, b};
}
}  // namespace

Table::Slot* Table::find(const Digest& d, std::int64_t now) const {
    const std::uint32_t n = h_->geometry.buckets;
    if (!n) return nullptr;
    const auto [a, b] = buckets_of(d.data(), n);
    for (std::uint32_t bi : {a, b}) {
        Slot* s = bucket(bi);
        for (unsigned i = 0; i < kSlotsPerBucket; ++i)
            if (s[i].expiry > now && std::memcmp(s[i].key, d.data(), kKeyLen) == 0) return &s[i];
    }
    return nullptr;
}

Table::Slot* Table::free_slot(const Digest& d, std::int64_t now) const {
    const std::uint32_t n = h_->geometry.buckets;
    if (!n) return nullptr;
    const auto [a, b] = buckets_of(d.data(), n);
    Slot* best = nullptr;
    unsigned best_free = 0;
    for (std::uint32_t bi : {a, b}) {
        Slot* s = bucket(bi);
        Slot* first = nullptr;
        unsigned free = 0;
        for (unsigned i = 0; i < kSlotsPerBucket; ++i)
            if (s[i].expiry <= now) {
                if (!first) first = &s[i];
                ++free;
            }
        if (free > best_free) {
            best = first;
            best_free = free;
        }
    }
    return best;
}

Table::Owner* Table::owner_of(std::uint64_t tag, std::int64_t now, bool create) const {
    const std::uint32_t n = h_->geometry.owners;
    Owner* free = nullptr;
    for (std::uint32_t i = 0; i < std::min(kOwnerProbe, n); ++i) {
        Owner* o = owner_slot(static_cast<std::uint32_t>((tag + i) % n));
        if (o->tag == tag) return o;
        if (!free && (!o->tag || !o->live(now))) free = o;
    }
    if (!create || !free) return nullptr;  // no room: this owner is not tracked
    std::memset(free, 0, sizeof(Owner));
    free->tag = tag;
    return free;
}

Verdict Table::charge(Use& use, std::int64_t expiry, std::int64_t now, int& bucket_index) {
    Lock lock(h_);
    if (!lock.ok()) return Verdict::unavailable;
    return charge_locked(use, expiry, now, bucket_index);
}

void Table::set_quota(std::uint32_t quota) {
    if (!quota) return;
    Lock lock(h_);
    if (lock.ok()) h_->quota = quota;
}

Verdict Table::charge_locked(Use& use, std::int64_t expiry, std::int64_t now, int& bucket_index) {
    bucket_index = -1;
    if (!use.owner && !use.owner_name.empty()) use.owner = owner_tag(use.owner_name);
    if (!use.owner) return Verdict::fresh;
    Owner* o = owner_of(use.owner, now, true);
    if (!o) return Verdict::fresh;
    o->expire(now);
    if (o->live(now) >= h_->quota) {
        use.free_at = o->next_expiry();
        return Verdict::over_share;
    }
    bucket_index = o->add(expiry, now);
    return Verdict::fresh;
}

void Table::refund(std::uint64_t owner, int bucket_index) {
    if (!owner || bucket_index < 0 || bucket_index >= static_cast<int>(kOwnerBuckets)) return;
    Lock lock(h_);
    if (!lock.ok()) return;
    if (Owner* o = owner_of(owner, 0, false); o && o->b[bucket_index].count) --o->b[bucket_index].count;
}

Verdict Table::admit(const Digest& d, std::int64_t expiry, std::int64_t now, Use& use, Slot*& slot) {
    if (use.made_after && use.made_after < h_->unknown_before) return Verdict::before_start;
    int charged = -1;
    if (const Verdict v = charge_locked(use, expiry, now, charged); v != Verdict::fresh) return v;
    slot = free_slot(d, now);
    if (!slot) {
        if (charged >= 0)
            if (Owner* o = owner_of(use.owner, now, false)) --o->b[charged].count;
        return Verdict::full;
    }
    std::memcpy(slot->key, d.data(), kKeyLen);
    slot->expiry = expiry;
    slot->high = slot->seen = 0;
    return Verdict::fresh;
}

Verdict Table::check_and_store(std::string_view key, std::int64_t expiry, std::int64_t now, Use& use) {
    const Digest d = replay_key(salt(), key);
    Lock lock(h_);
    if (!lock.ok()) return Verdict::unavailable;
    if (find(d, now)) return Verdict::replayed;
    Slot* slot = nullptr;
    return admit(d, expiry, now, use, slot);
}

Verdict Table::contains(std::string_view key, std::int64_t now) {
    const Digest d = replay_key(salt(), key);
    Lock lock(h_);
    if (!lock.ok()) return Verdict::unavailable;
    return find(d, now) ? Verdict::replayed : Verdict::fresh;
}

Verdict Table::check_and_count(std::string_view key, std::uint32_t count, std::int64_t expiry, std::int64_t now,
                               Use& use) {
    const Digest d = replay_key(salt(), key);
    Lock lock(h_);
    if (!lock.ok()) return Verdict::unavailable;
    if (Slot* s = find(d, now)) {
        if (count > s->high) {
            const std::uint64_t shift = count - s->high;
            s->seen = shift >= kWindow ? 1 : (s->seen << shift) | 1;
            s->high = count;
            return Verdict::fresh;
        }
        const std::uint64_t behind = s->high - count;
        if (behind >= kWindow) return Verdict::behind_window;
        const std::uint64_t bit = std::uint64_t{1} << behind;
        if (s->seen & bit) return Verdict::replayed;
        s->seen |= bit;
        return Verdict::fresh;
    }
    Slot* slot = nullptr;
    const Verdict v = admit(d, expiry, now, use, slot);
    if (v == Verdict::fresh) {
        slot->high = count;
        slot->seen = 1;
    }
    return v;
}

std::uint32_t Table::live_entries(std::int64_t now) {
    Lock lock(h_);
    std::uint32_t n = 0;
    for (std::uint32_t b = 0; b < h_->geometry.buckets; ++b)
        for (unsigned i = 0; i < kSlotsPerBucket; ++i)
            if (bucket(b)[i].expiry > now) ++n;
    return n;
}

std::uint32_t Table::live_charge(std::uint64_t owner, std::int64_t now) {
    Lock lock(h_);
    const Owner* o = owner_of(owner, now, false);
    return o ? o->live(now) : 0;
}

std::string Table::save(std::int64_t now) {
    const std::string_view label = this->label();
    Lock lock(h_);
    if (!lock.ok()) throw std::runtime_error("replay table: cannot take its lock");
    std::string entries, owners;
    std::uint32_t n_entries = 0, n_owners = 0;
    {
        Writer w;
        for (std::uint32_t b = 0; b < h_->geometry.buckets; ++b)
            for (unsigned i = 0; i < kSlotsPerBucket; ++i) {
                const Slot& s = bucket(b)[i];
                if (s.expiry <= now) continue;
                w.bytes(s.key, kKeyLen);
                w.i64(s.expiry);
                w.u64(s.high);
                w.u64(s.seen);
                ++n_entries;
            }
        entries = std::move(w.out);
    }
    {
        Writer w;
        for (std::uint32_t i = 0; i < h_->geometry.owners; ++i) {
            const Owner& o = *owner_slot(i);
            if (!o.tag || !o.live(now)) continue;
            w.u64(o.tag);
            for (const auto& x : o.b) {
                w.i64(x.until > now ? x.until : 0);
                w.u32(x.until > now ? x.count : 0);
                w.u32(x.until > now ? x.span : 0);
            }
            ++n_owners;
        }
        owners = std::move(w.out);
    }
    Writer w;
    w.bytes(kFileMagic, sizeof kFileMagic);
    w.u32(static_cast<std::uint32_t>(label.size()));
    w.bytes(label.data(), label.size());
    w.bytes(h_->salt, sizeof h_->salt);
    w.u32(h_->generation);
    w.i64(h_->unknown_before);
    w.i64(now);
    w.u32(n_entries);
    w.u32(n_owners);
    w.out += entries;
    w.out += owners;
    const Digest sum = replay_key("", w.out);
    w.bytes(sum.data(), sum.size());
    return std::move(w.out);
}

std::optional<Table::Restored> Table::restore(std::string_view bytes, std::int64_t now) {
    const std::string label(this->label());
    constexpr std::size_t kEntryBytes = kKeyLen + 24;
    constexpr std::size_t kOwnerBytes = 8 + kOwnerBuckets * 16;
    if (bytes.size() < 32) return std::nullopt;
    const std::string_view body = bytes.substr(0, bytes.size() - 32);
    const Digest sum = replay_key("", body);
    if (CRYPTO_memcmp(sum.data(), bytes.data() + body.size(), 32) != 0) return std::nullopt;
    Reader in(body);
    char magic[8];
    std::uint32_t label_len = 0;
    if (!in.bytes(magic, 8) || std::memcmp(magic, kFileMagic, 8) != 0 || !in.u32(label_len) ||
        label_len != label.size() || label_len > in.left())
        return std::nullopt;
    std::string got(label_len, '\0');
    in.bytes(got.data(), label_len);
    if (got != label) return std::nullopt;
    unsigned char salt[32];
    std::uint32_t generation = 0, n_entries = 0, n_owners = 0;
    std::int64_t unknown_before = 0, saved_at = 0;
    if (!in.bytes(salt, 32) || !in.u32(generation) || !in.i64(unknown_before) || !in.i64(saved_at) ||
        !in.u32(n_entries) || !in.u32(n_owners))
        return std::nullopt;
    if (in.left() != std::uint64_t{n_entries} * kEntryBytes + std::uint64_t{n_owners} * kOwnerBytes)
        return std::nullopt;

    Lock lock(h_);
    if (!lock.ok()) return std::nullopt;
    std::memcpy(h_->salt, salt, 32);
    h_->generation = generation ? generation : 1;
    Restored r;
    r.saved_at = saved_at;
    for (std::uint32_t i = 0; i < n_entries; ++i) {
        Digest d{};
        std::int64_t expiry = 0;
        std::uint64_t high = 0, seen = 0;
        in.bytes(d.data(), kKeyLen);
        in.i64(expiry);
        in.u64(high);
        in.u64(seen);
        if (expiry <= now) continue;
        Slot* s = free_slot(d, now);
        if (!s) {
            ++r.dropped;
            continue;
        }
        std::memcpy(s->key, d.data(), kKeyLen);
        s->expiry = expiry;
        s->high = high;
        s->seen = seen;
        ++r.entries;
    }
    for (std::uint32_t i = 0; i < n_owners; ++i) {
        std::uint64_t tag = 0;
        Owner::Bucket b[kOwnerBuckets];
        in.u64(tag);
        for (auto& x : b) {
            in.i64(x.until);
            in.u32(x.count);
            in.u32(x.span);
        }
        if (!tag) continue;
        if (Owner* o = owner_of(tag, now, true)) {
            std::memcpy(o->b, b, sizeof b);
            o->expire(now);
        }
    }
    // What did not fit may be used again: then nothing older than now is known.
    h_->unknown_before = r.dropped ? now : std::max(h_->unknown_before, unknown_before);
    return r;
}

}  // namespace cmi::replay

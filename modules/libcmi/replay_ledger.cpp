#include "libcmi/replay_ledger.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace cmi::replay {

Key replay_key(std::string_view salt, std::string_view key) {
    Key out{};
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    const unsigned char sep = 0;
    const bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx, salt.data(), salt.size()) == 1 &&
                    EVP_DigestUpdate(ctx, &sep, 1) == 1 && EVP_DigestUpdate(ctx, key.data(), key.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == out.size();
    EVP_MD_CTX_free(ctx);
    if (!ok) throw std::runtime_error("SHA-256 failed");
    return out;
}

struct Ledger::Header {
    std::uint32_t magic;
    std::uint32_t subcaches;
    std::uint32_t capacity;
    std::uint32_t reserved;
};

// A ring of `capacity` expiry times, oldest first, like shmcb's index queue.
struct Ledger::Fifo {
    std::uint32_t head;
    std::uint32_t used;
};

namespace {
constexpr std::uint32_t kMagic = 0x434d4952;  // "CMIR"

std::size_t fifo_bytes(unsigned capacity) { return 8 + std::size_t{capacity} * 8; }
}  // namespace

std::size_t Ledger::bytes(unsigned subcaches, unsigned capacity) {
    return sizeof(Header) + std::size_t{subcaches} * fifo_bytes(capacity);
}

Ledger Ledger::format(void* mem, unsigned subcaches, unsigned capacity) {
    if (!mem || subcaches < 1 || subcaches > 256 || (subcaches & (subcaches - 1)) || capacity < 1)
        throw std::invalid_argument("replay ledger: bad geometry");
    auto* h = static_cast<Header*>(mem);
    h->magic = kMagic;
    h->subcaches = subcaches;
    h->capacity = capacity;
    h->reserved = 0;
    Ledger l(h);
    for (unsigned i = 0; i < subcaches; ++i) {
        auto* f = reinterpret_cast<Fifo*>(reinterpret_cast<unsigned char*>(h + 1) + i * fifo_bytes(capacity));
        f->head = f->used = 0;
    }
    return l;
}

Ledger Ledger::attach(void* mem) {
    auto* h = static_cast<Header*>(mem);
    if (!h || h->magic != kMagic) throw std::invalid_argument("replay ledger: not formatted");
    return Ledger(h);
}

unsigned Ledger::subcaches() const { return h_->subcaches; }
unsigned Ledger::capacity() const { return h_->capacity; }

Ledger::Fifo* Ledger::fifo(const Key& key) const {
    // shmcb: SHMCB_MASK(header, id) = first byte & (subcache_num - 1).
    const unsigned i = key[0] & (h_->subcaches - 1);
    return reinterpret_cast<Fifo*>(reinterpret_cast<unsigned char*>(h_ + 1) + i * fifo_bytes(h_->capacity));
}

std::int64_t* Ledger::slots(Fifo* f) const { return reinterpret_cast<std::int64_t*>(f + 1); }

Ledger::Claim Ledger::claim(const Key& key, std::int64_t expiry, std::int64_t now) {
    Fifo* f = fifo(key);
    std::int64_t* s = slots(f);
    const std::uint32_t cap = h_->capacity;
    // shmcb_subcache_expire: drop expired entries from the head, stop at the first live one.
    while (f->used && s[f->head] <= now) {
        f->head = (f->head + 1) % cap;
        --f->used;
    }
    if (f->used == cap) return Claim::full;
    s[(f->head + f->used) % cap] = expiry;
    ++f->used;
    return Claim::stored;
}

void Ledger::unclaim(const Key& key) {
    Fifo* f = fifo(key);
    if (f->used) --f->used;
}

unsigned Ledger::live(const Key& key, std::int64_t now) const {
    Fifo* f = fifo(key);
    const std::int64_t* s = slots(f);
    unsigned n = 0;
    for (std::uint32_t i = 0; i < f->used; ++i)
        if (s[(f->head + i) % h_->capacity] > now) ++n;
    return n;
}

}  // namespace cmi::replay

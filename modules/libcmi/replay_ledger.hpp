// Replay keys and the ledger that keeps a shmcb replay cache honest.
//
// mod_socache_shmcb splits its memory into 2^k subcaches chosen by the FIRST
// BYTE of the id, each a FIFO of fixed capacity. When a subcache is full, a
// store silently evicts its oldest entries (after dropping expired ones from
// the head). For a replay cache that is a hole: an evicted nonce-count or
// one-time assertion id could be used again. So:
//
// - replay_key() turns any key into 32 bytes of SHA-256 (fixed size, and the
//   first byte spreads keys over every subcache; raw "cmi-dg:..." keys all
//   share their first byte and so crowd into one subcache);
// - Ledger mirrors each subcache's FIFO of expiry times in shared memory,
//   with the capacity probed at start-up, and refuses a store that would make
//   shmcb evict a live entry. The caller then fails closed (503).
//
// Nothing here knows httpd: the ledger works on memory the caller provides.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cmi::replay {

using Key = std::array<unsigned char, 32>;

// SHA-256(salt || 0x00 || key). A local cache uses a random salt made at each
// start (keys cannot be aimed at one subcache, and nothing from an earlier
// generation matches); a cache shared by a cluster uses a fixed salt.
Key replay_key(std::string_view salt, std::string_view key);

class Ledger {
public:
    // Bytes of memory a ledger for `subcaches` FIFOs of `capacity` entries needs.
    static std::size_t bytes(unsigned subcaches, unsigned capacity);

    // Formats `mem` (at least bytes(subcaches, capacity), 8-byte aligned) as an
    // empty ledger. `subcaches` is a power of two from 1 to 256, capacity >= 1.
    static Ledger format(void* mem, unsigned subcaches, unsigned capacity);
    // A ledger already formatted in `mem` (e.g. inherited by a child process).
    static Ledger attach(void* mem);

    enum class Claim { stored, full };

    // Records an entry for `key` expiring at `expiry`, as shmcb will store it at
    // time `now`: expired entries leave the head of the key's FIFO first. `full`
    // (nothing recorded) when the FIFO holds `capacity` live entries: storing
    // would evict one of them.
    Claim claim(const Key& key, std::int64_t expiry, std::int64_t now);
    // Takes back the entry claim() just recorded for `key` (the store failed).
    void unclaim(const Key& key);

    // Live entries in the FIFO `key` falls into, at `now`.
    unsigned live(const Key& key, std::int64_t now) const;
    unsigned subcaches() const;
    unsigned capacity() const;

private:
    struct Header;
    struct Fifo;
    explicit Ledger(Header* h) : h_(h) {}
    Fifo* fifo(const Key& key) const;
    std::int64_t* slots(Fifo* f) const;

    Header* h_;
};

}  // namespace cmi::replay

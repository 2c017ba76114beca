// The local replay store: a table in shared memory that every process of one
// httpd (parent, children of every generation) attaches to, kept across
// graceful restarts and saved to a file at a clean stop.
//
// - Entries: 16 bytes of salted SHA-256 of the caller's key, an expiry, and a
//   nonce-count window. Two-choice hashing over buckets of 8 slots: a key lives
//   in the emptier of its two buckets; an expired slot is free. A store with
//   both buckets full of live entries is refused (`full`), never evicted.
// - Shares: each entry may be charged to an owner (a user, a signer); an owner
//   holds at most `quota` live entries (`over_share`), so one identity cannot
//   fill the store for everybody. Counted per owner in a few expiry buckets:
//   conservative (an entry may be counted a little past its expiry), O(1).
// - Start: `unknown_before` is when this table's memory begins. Something made
//   before it (an assertion, a signature) may have been used while nothing was
//   recorded (before a first start, or a crash): `before_start`.
// - A table with no entry buckets keeps only shares (the accounting of a store
//   shared by a cluster, which keeps the entries itself).
//
// Times are microseconds since the epoch (apr_time_t). Nothing here knows httpd;
// the lock is a process-shared, robust pthread mutex in the table.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cmi::replay {

using Digest = std::array<unsigned char, 32>;

// SHA-256(salt || 0x00 || key): fixed size whatever the key, and a random salt
// keeps clients from aiming keys at one bucket.
Digest replay_key(std::string_view salt, std::string_view key);

struct Geometry {
    std::uint32_t buckets = 0;  // of 8 entries; 0: shares only
    std::uint32_t owners = 0;   // share slots
    std::uint32_t entries() const { return buckets * 8; }
};

enum class Verdict { fresh, replayed, full, over_share, before_start, behind_window, unavailable };

// Nonce-count windows: the highest count seen and which of the 64 below it were.
inline constexpr unsigned kWindow = 64;

class Table {
public:
    // The geometry that fits `bytes` of memory (entries and one share slot per bucket).
    static Geometry fit(std::size_t bytes);
    // A shares-only table (for a shared store) with `owners` slots.
    static Geometry shares_only(std::uint32_t owners) { return {0, owners}; }
    static std::size_t bytes(const Geometry& g);

    // Formats `mem` (bytes(g), 8-byte aligned) as an empty table of `label`
    // (at most 31 bytes: whose table it is). `random` gives the salt and
    // generation. unknown_before: 0 when nothing was lost before this table,
    // else the time from which it knows what was used.
    static Table format(void* mem, const Geometry& g, std::uint32_t quota, const unsigned char (&random)[36],
                        std::string_view label, std::int64_t unknown_before);
    static Table attach(void* mem);  // throws std::invalid_argument if not a table
    // The table `mem` (of `bytes`) holds if it is one of `label`, else nullopt.
    static std::optional<Table> attach_if(void* mem, std::size_t bytes, std::string_view label);
    // The label of the table `mem` holds, if it holds one.
    static std::optional<std::string> label_of(const void* mem, std::size_t bytes);
    // Makes the lock anew: a table taken over from processes that are all gone
    // (an earlier httpd) may hold a lock state of theirs. Nobody may use the table meanwhile.
    void reset_lock();

    struct Use {
        std::uint64_t owner = 0;     // owner_tag(); 0: owner_name's, when an entry is charged
        std::int64_t made_after = 0;  // the item cannot be older; 0: unknown (no start check)
        std::int64_t free_at = 0;     // out, with over_share: when the owner's next entry expires
        std::string_view owner_name;  // hashed only when a new entry is charged; "": not charged
    };

    // Records `key` until `expiry`: fresh, or replayed if recorded and not expired.
    Verdict check_and_store(std::string_view key, std::int64_t expiry, std::int64_t now, Use& use);
    // Records `count` of `key`'s window: fresh once per count; behind_window for
    // a count kWindow or more below the highest seen. The first count of a key
    // makes its entry (charged, checked like check_and_store).
    Verdict check_and_count(std::string_view key, std::uint32_t count, std::int64_t expiry, std::int64_t now,
                            Use& use);

    // replayed if `key` is recorded and not expired, else fresh; records nothing.
    Verdict contains(std::string_view key, std::int64_t now);

    // Shares for a store kept elsewhere: charge before storing, refund if the store failed.
    Verdict charge(Use& use, std::int64_t expiry, std::int64_t now, int& bucket);
    void refund(std::uint64_t owner, int bucket);
    // A new share for every owner (a configuration change at a restart).
    void set_quota(std::uint32_t quota);

    std::uint64_t owner_tag(std::string_view owner) const;
    const Geometry& geometry() const;
    std::uint32_t quota() const;
    std::uint32_t generation() const;
    std::int64_t unknown_before() const;
    std::string_view salt() const;
    std::string_view label() const;
    // Live entries and the owner's live charge, for tests and logs.
    std::uint32_t live_entries(std::int64_t now);
    std::uint32_t live_charge(std::uint64_t owner, std::int64_t now);

    // The table's live state as bytes (magic, label, salt, generation,
    // unknown_before, entries, shares, SHA-256): to move it into a table of
    // another size.
    std::string save(std::int64_t now);
    struct Restored {
        std::uint32_t entries = 0;  // live entries taken over
        std::uint32_t dropped = 0;  // live entries that did not fit (then unknown_before stays now)
        std::int64_t saved_at = 0;
    };
    // Takes over a state saved by save() into this freshly formatted table
    // (any geometry). nullopt, and the table untouched, if `bytes` is not a
    // state of this table's label or is damaged.
    std::optional<Restored> restore(std::string_view bytes, std::int64_t now);

private:
    struct Header;
    struct Slot;
    struct Owner;
    class Lock;
    explicit Table(Header* h) : h_(h) {}
    Slot* bucket(std::uint32_t i) const;
    Owner* owner_slot(std::uint32_t i) const;
    Slot* find(const Digest& k, std::int64_t now) const;
    Slot* free_slot(const Digest& k, std::int64_t now) const;
    Owner* owner_of(std::uint64_t tag, std::int64_t now, bool create) const;
    Verdict charge_locked(Use& use, std::int64_t expiry, std::int64_t now, int& bucket);
    Verdict admit(const Digest& k, std::int64_t expiry, std::int64_t now, Use& use, Slot*& slot);

    Header* h_;
};

}  // namespace cmi::replay

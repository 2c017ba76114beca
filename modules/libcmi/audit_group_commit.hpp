// The request side of the audit ring: admission with a bounded wait, and the
// group-commit wait. Every thread that waits for durability sleeps on the one
// futex word the writer bumps after each fdatasync, and all of them are woken
// together (the shape of PostgreSQL's WAL writer); nobody sleeps for a record
// it does not need (an end record, a begin record with CMIAuditSync Off).
#pragma once
#include "libcmi/audit_ring.hpp"

#include <cstdint>
#include <string_view>

namespace cmi::audit {

// Publishes a begin record, waiting up to `timeout_ns` for room (ring space,
// a result entry, file space the writer has allocated) — except when the
// writer has said the file system is full, which is refused at once.
// `durable`: the caller will await_entry(durable) (the writer syncs for it).
// `process`: the caller's Ring::register_process slot (~0u: looked up each time).
Ring::Admit admit_begin(Ring& ring, std::string_view fields, std::int32_t pid, std::int64_t timeout_ns,
                        std::uint32_t& entry, bool durable = false, std::uint32_t process = ~0u);
// Publishes an end record (its begin's reserve makes room for it), waiting up
// to `timeout_ns` if it is larger than that reserve and the ring is full.
Ring::Admit admit_end(Ring& ring, std::string_view fields, std::uint32_t entry, std::int32_t pid,
                      std::int64_t timeout_ns, std::uint32_t process = ~0u);

enum class Await { written, durable };
// Waits until the begin record of `entry` is written (seq and hash known) or
// durable, or has failed, at most `timeout_ns`. Returns the entry's state then
// (kEntryQueued/kEntryWritten when the time ran out).
std::uint32_t await_entry(Ring& ring, std::uint32_t entry, Await what, std::int64_t timeout_ns);

// Whether the writer has not looked at the ring for `stale_ns` while records
// wait there (it is dead, stopped or hung).
bool writer_stuck(const Ring& ring, std::int64_t stale_ns);
// Whether writes failed within the last second (a Sync Off begin is refused then).
bool writes_failing(const Ring& ring);

}  // namespace cmi::audit

// Transaction ids: UUIDv7 (RFC 9562 §5.7) with a 12-bit counter in rand_a
// (RFC 9562 §6.2 method 1), so ids from one generator are strictly increasing.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace cmi {

class TxidGenerator {
public:
    // Next id as the 36-character lower-case string form.
    std::string next();
    // Same, with an explicit clock (milliseconds since the Unix epoch); for tests.
    std::string next_at(std::uint64_t unix_ms);
    // The next id into `out`, NUL-terminated (no allocation: one per request).
    static constexpr std::size_t kLength = 36;
    void next_into(char (&out)[kLength + 1]);

private:
    void format_at(std::uint64_t unix_ms, char (&out)[kLength + 1]);

    // (unix_ms << 12) | counter of the last id handed out.
    std::atomic<std::uint64_t> last_{0};
};

// The per-process generator. Its only state is the clock position of the
// last id, so it is safe to keep across post_config reruns.
TxidGenerator& process_txid_generator();

// True if s is a UUID string of version 7 and RFC 9562 variant.
bool is_uuid_v7(const std::string& s);

}  // namespace cmi

// The hash chain of the audit log.
//
// Each record's `prev` is the lower-case hex SHA-256 of the complete previous
// line as it is stored in the file, INCLUDING its terminating line feed
// ("\n"). So `sed -n 5p log | sha256sum` is the `prev` of record 6. The first
// record ever written has `prev` = 64 zeros (kGenesisPrev); the first record
// of a rotated file names the hash of the last line of the file before it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cmi::audit {

inline constexpr std::string_view kGenesisPrev =
    "0000000000000000000000000000000000000000000000000000000000000000";

// What a checkpoint record signs: its own seq and its prev, i.e. the head
// of the chain it vouches for:  "cmi-audit checkpoint v1\n<seq>\n<prev>\n".
std::string checkpoint_message(std::uint64_t seq, std::string_view prev);

// Hex SHA-256 of the bytes of one line, which must include its "\n".
std::string line_hash(std::string_view line_with_newline);

// Where a chain stands: the last record's seq and line hash.
struct ChainHead {
    std::uint64_t seq = 0;                    // 0: no record yet
    std::string hash = std::string(kGenesisPrev);
};

// The `<log>.head` file the httpd parent keeps next to the log, so that a
// new, empty log (a rotation while httpd was stopped) still continues the
// chain:  "cmi-audit head v1\n<seq>\n<hex hash of the last line>\n".
std::string format_head_file(const ChainHead& head);
// nullopt unless `text` is exactly that form (seq > 0, 64 lower-case hex digits).
std::optional<ChainHead> parse_head_file(std::string_view text);

}  // namespace cmi::audit

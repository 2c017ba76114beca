// Signed receipts (docs/architecture.md §Audit trail): the client's proof that the CMC accepted an
// operation.
//
//   CMI-Receipt: txid="…", hash=:base64:, sig=:base64:, keyid="…"
//
// `hash` is SHA-256 over the canonical facts: the compact JSON object
//   {"txid":…,"time":…,"user":…,"method":…,"uri":…,"digest":…,"status":…}
// in that order, serialized like audit records (printable ASCII, \u escapes),
// with `time` the begin record's time and null for unknown values. `sig` is
// the node key's signature over the 32 hash bytes (see signer.hpp).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cmi::audit {

struct ReceiptFacts {
    std::string txid, time;
    std::optional<std::string> user, method, uri, digest;
    int status = 0;
};

std::string receipt_canonical(const ReceiptFacts& facts);
std::array<unsigned char, 32> receipt_hash(const ReceiptFacts& facts);

struct Receipt {
    std::string txid;
    std::vector<unsigned char> hash, sig;
    std::string keyid;
};

std::string format_receipt(const Receipt& r);
// Parses the header value (an RFC 8941 dictionary with exactly these four
// members); nullopt if it is not one.
std::optional<Receipt> parse_receipt(std::string_view value);

}  // namespace cmi::audit

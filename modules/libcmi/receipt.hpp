// Signed receipts (docs/architecture.md §Audit trail): the client's proof that the CMC accepted an
// operation, and where its begin record stands in the log's chain.
//
//   CMI-Receipt: txid="…", seq=N, begin="<hex>", hash=:base64:, sig=:base64:, keyid="…"
//
// `seq` and `begin` are the seq of the operation's begin record and the hex
// SHA-256 of its line as written (line feed included: `sed -n Np | sha256sum`),
// so a receipt plus the log prove that exact line is in the chain at that
// place, even if every line after it was rewritten and re-chained.
// `hash` is SHA-256 over the canonical facts: the compact JSON object
//   {"txid":…,"time":…,"user":…,"method":…,"uri":…,"digest":…,"status":…}
// in that order, serialized like audit records (printable ASCII, \u escapes),
// with `time` the begin record's time and null for unknown values. `sig` is
// the node key's signature (see signer.hpp: Ed25519 over the bytes, P-256
// ECDSA over their SHA-256) over receipt_message():
//   "cmi-audit receipt v1\n<txid>\n<seq>\n<begin>\n<hash in base64>\n"
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
    std::uint64_t seq = 0;
    std::string begin;  // hex SHA-256 of the begin record's line
    std::vector<unsigned char> hash, sig;
    std::string keyid;
};

// What `sig` signs (above).
std::string receipt_message(const Receipt& r);

std::string format_receipt(const Receipt& r);
// Parses the header value (an RFC 8941 dictionary with exactly these six
// members); nullopt if it is not one.
std::optional<Receipt> parse_receipt(std::string_view value);

}  // namespace cmi::audit

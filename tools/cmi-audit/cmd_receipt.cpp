#include "commands.hpp"
#include "read_chain.hpp"

#include "libcmi/receipt.hpp"
#include "libcmi/signer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <optional>

namespace cmi::audit_tool {
namespace {

std::optional<std::string> opt_str(const nlohmann::json& j) {
    if (j.is_string()) return j.get<std::string>();
    return std::nullopt;
}

int fail(const std::string& why) {
    std::cout << "FAIL: " << why << "\n";
    return 1;
}

}  // namespace

int receipt(const SignatureVerifier& key, const std::string& value, const std::vector<std::string>& files) {
    const auto rc = audit::parse_receipt(value);
    if (!rc)
        return fail("not a CMI-Receipt value (txid=\"...\", seq=N, begin=\"HEX\", hash=:...:, sig=:...:, keyid=\"...\")");
    if (rc->keyid != key.keyid()) return fail("the receipt names key " + rc->keyid + ", not this key");
    if (!key.verify(audit::receipt_message(*rc), rc->sig)) return fail("the signature does not verify");

    // One pass: the chain, the line at the receipt's seq, the records of this operation.
    nlohmann::json begin, end;
    std::string at_seq_hash, at_seq_where;
    audit::ChainVerifier chain;
    chain.observe([&](std::uint64_t seq, std::string_view line, const std::string& where) {
        if (seq == rc->seq) {
            std::string bytes(line);
            bytes += '\n';
            at_seq_hash = audit::line_hash(bytes);
            at_seq_where = where;
        }
        if (line.find(rc->txid) == std::string_view::npos) return;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || opt_str(j["txid"]) != rc->txid) return;
        if (j["ev"] == "begin") begin = std::move(j);
        else if (j["ev"] == "end") end = std::move(j);
    });
    const ChainRead read = read_chain(files, chain);
    if (!read.ok) return fail("the log does not verify: " + read.failure);
    // The receipt binds the begin line itself: a line altered after the
    // receipt was issued fails here even if every later line was re-chained.
    const std::string seq = std::to_string(rc->seq);
    if (at_seq_hash.empty()) return fail("the log holds no record seq " + seq + " (the receipt's begin record)");
    if (at_seq_hash != rc->begin)
        return fail("the record seq " + seq + " (" + at_seq_where + ") is not the begin line this receipt was issued for: "
                    "its SHA-256 is " + at_seq_hash + ", the receipt says " + rc->begin +
                    " (altered, or another log)");

    if (begin.is_null() || end.is_null()) return fail("the log holds no begin and end record for " + rc->txid);
    if (begin["seq"] != rc->seq) return fail("the begin record of " + rc->txid + " is not seq " + seq);
    audit::ReceiptFacts facts;
    facts.txid = rc->txid;
    facts.time = begin["time"].get<std::string>();
    if (end["auth"].is_object()) facts.user = opt_str(end["auth"]["user"]);
    facts.method = opt_str(end["method"]);
    facts.uri = opt_str(end["uri"]);
    if (end["request"].is_object()) facts.digest = opt_str(end["request"]["digest"]);
    facts.status = end["status"].is_number_integer() ? end["status"].get<int>() : 0;
    const auto hash = audit::receipt_hash(facts);
    if (!std::equal(hash.begin(), hash.end(), rc->hash.begin(), rc->hash.end()))
        return fail("the facts the log holds for " + rc->txid + " do not hash to the receipt's hash");
    if (opt_str(end["receipt"]) != value) return fail("the end record of " + rc->txid + " holds another receipt");
    std::cout << "OK receipt for " << rc->txid << ": " << facts.method.value_or("-") << " " << facts.uri.value_or("-")
              << " -> " << facts.status << "; begin record seq " << seq << " (" << at_seq_where
              << ") is the line it was issued for, end record seq " << end["seq"] << "\n";
    return 0;
}

}  // namespace cmi::audit_tool

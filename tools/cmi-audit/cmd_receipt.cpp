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
    if (!rc) return fail("not a CMI-Receipt value (txid=\"...\", hash=:...:, sig=:...:, keyid=\"...\")");
    if (rc->keyid != key.keyid()) return fail("the receipt names key " + rc->keyid + ", not this key");
    if (!key.verify(std::string_view(reinterpret_cast<const char*>(rc->hash.data()), rc->hash.size()), rc->sig))
        return fail("the signature does not verify");

    // One pass: the chain, and the records of this operation.
    nlohmann::json begin, end;
    audit::ChainVerifier chain;
    chain.observe([&](std::uint64_t, std::string_view line, const std::string&) {
        if (line.find(rc->txid) == std::string_view::npos) return;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || opt_str(j["txid"]) != rc->txid) return;
        if (j["ev"] == "begin") begin = std::move(j);
        else if (j["ev"] == "end") end = std::move(j);
    });
    const ChainRead read = read_chain(files, chain);
    if (!read.ok) return fail("the log does not verify: " + read.failure);

    if (begin.is_null() || end.is_null()) return fail("the log holds no begin and end record for " + rc->txid);
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
              << " -> " << facts.status << ", end record seq " << end["seq"] << "\n";
    return 0;
}

}  // namespace cmi::audit_tool

// cmi-audit: check and read mod_cmi_audit operation logs.
//   cmi-audit verify FILE...      the chain holds across the files, in order
//   cmi-audit show TXID FILE...   the records of one operation
#include "libcmi/audit_verify.hpp"
#include "libcmi/receipt.hpp"
#include "libcmi/sha256.hpp"
#include "libcmi/signer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: cmi-audit verify [--key PUBKEY.pem] FILE...\n"
    "       cmi-audit show TXID FILE...\n"
    "       cmi-audit receipt --key PUBKEY.pem RECEIPT FILE...\n"
    "       cmi-audit COMMAND --help    (or: cmi-audit help COMMAND)\n"
    "\n"
    "Checks mod_cmi_audit operation logs (JSON Lines, one hash chain) and the\n"
    "CMI-Receipt headers clients keep. See cmi-audit(1) and docs/audit-log.md.\n"
    "Exit status: 0 OK, 1 check failed, 2 usage or I/O error.\n";

constexpr const char* kVerifyHelp =
    "usage: cmi-audit verify [--key PUBKEY.pem] FILE...\n"
    "\n"
    "Exit 0 if every line of the FILEs is a record, seq is contiguous and the hash\n"
    "chain holds across the FILEs (give rotated files too, in any order: records\n"
    "are merged by seq; each file must be in order). Otherwise exit 1 and print\n"
    "  FAIL FILE:LINE: seq N: REASON\n"
    "for the first bad record (changed, deleted, inserted, swapped or truncated).\n"
    "\n"
    "  --key PUBKEY.pem  the node's signing key (public key, certificate or private\n"
    "                    key PEM): every checkpoint record must carry a valid\n"
    "                    signature by it and there must be at least one. The output\n"
    "                    says how many records follow the last checkpoint (the chain\n"
    "                    alone cannot show that records were cut off the end).\n"
    "\n"
    "Example: cmi-audit verify --key audit-pub.pem audit.log.1 audit.log\n";

constexpr const char* kShowHelp =
    "usage: cmi-audit show TXID FILE...\n"
    "\n"
    "Print every record of the FILEs whose txid (the CMI-Transaction-ID) or\n"
    "client_txid (the CMI-Client-Transaction-ID) is TXID, as stored, one per line.\n"
    "Exit 0 if at least one was found, 1 if none. It does not verify the chain:\n"
    "run cmi-audit verify for that.\n"
    "\n"
    "Example: cmi-audit show 0192f3a4-5b6c-7d8e-9f01-23456789abcd audit.log\n";

constexpr const char* kReceiptHelp =
    "usage: cmi-audit receipt --key PUBKEY.pem RECEIPT FILE...\n"
    "\n"
    "Check a CMI-Receipt header value a client kept (RECEIPT, one argument:\n"
    "  txid=\"...\", hash=:BASE64:, sig=:BASE64:, keyid=\"HEX\"  ).\n"
    "Exit 0 if sig is the key's signature over hash, the chain of the FILEs\n"
    "verifies, the log holds the begin and end records of that txid, and the\n"
    "facts recorded there (txid, time, user, method, uri, request digest, status)\n"
    "hash to the receipt's hash. Otherwise exit 1 with the reason.\n"
    "\n"
    "  --key PUBKEY.pem  the node's signing key (public key, certificate or private\n"
    "                    key PEM). Required.\n"
    "\n"
    "Example: cmi-audit receipt --key audit-pub.pem \"$(cat receipt.txt)\" audit.log\n";

int usage(int code) {
    (code ? std::cerr : std::cout) << kUsage;
    return code;
}

const char* help_of(const std::string& command) {
    if (command == "verify") return kVerifyHelp;
    if (command == "show") return kShowHelp;
    if (command == "receipt") return kReceiptHelp;
    return nullptr;
}

// A command used wrongly: its own usage on stderr, exit 2.
int misuse(const std::string& command) {
    std::cerr << help_of(command);
    return 2;
}

bool is_help(const std::string& a) { return a == "--help" || a == "-h"; }

int verify(const std::vector<std::string>& files, const cmi::SignatureVerifier* key) {
    cmi::audit::ChainVerifier v;
    v.require_checkpoints(key);
    std::vector<std::unique_ptr<std::ifstream>> streams;
    std::vector<std::pair<std::istream*, std::string>> inputs;
    for (const auto& f : files) {
        auto in = std::make_unique<std::ifstream>(f, std::ios::binary);
        if (!*in) {
            std::cerr << "cmi-audit: cannot open " << f << ": " << std::strerror(errno) << "\n";
            return 2;
        }
        inputs.emplace_back(in.get(), f);
        streams.push_back(std::move(in));
    }
    if (!v.feed_streams(inputs)) {
        const auto& e = *v.error();
        std::cout << "FAIL " << e.where << ": ";
        if (e.seq) std::cout << "seq " << *e.seq << ": ";
        std::cout << e.reason << "\n";
        return 1;
    }
    if (v.records() == 0) {
        std::cout << "FAIL: no records\n";
        return 1;
    }
    if (key && v.checkpoints() == 0) {
        std::cout << "FAIL: no signed checkpoint in the log\n";
        return 1;
    }
    std::cout << "OK " << v.records() << " records, last seq " << v.head().seq << ", head " << v.head().hash;
    if (key)
        std::cout << "; " << v.checkpoints() << " checkpoints verified, last at seq " << v.last_checkpoint_seq() << ", "
                  << (v.head().seq - v.last_checkpoint_seq()) << " records after it not covered";
    std::cout << "\n";
    return 0;
}

int show(const std::string& txid, const std::vector<std::string>& files) {
    int found = 0;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            std::cerr << "cmi-audit: cannot open " << f << ": " << std::strerror(errno) << "\n";
            return 2;
        }
        std::string line;
        while (std::getline(in, line)) {
            if (line.find(txid) == std::string::npos) continue;  // cheap pre-filter
            const auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object()) continue;
            for (const char* key : {"txid", "client_txid"}) {
                const auto it = j.find(key);
                if (it != j.end() && it->is_string() && it->get<std::string>() == txid) {
                    std::cout << line << "\n";
                    ++found;
                    break;
                }
            }
        }
    }
    return found ? 0 : 1;
}

std::optional<std::string> opt_str(const nlohmann::json& j) {
    if (j.is_string()) return j.get<std::string>();
    return std::nullopt;
}

int receipt(const cmi::SignatureVerifier& key, const std::string& value, const std::vector<std::string>& files) {
    auto fail = [](const std::string& why) {
        std::cout << "FAIL: " << why << "\n";
        return 1;
    };
    const auto rc = cmi::audit::parse_receipt(value);
    if (!rc) return fail("not a CMI-Receipt value (txid=\"...\", hash=:...:, sig=:...:, keyid=\"...\")");
    if (rc->keyid != key.keyid()) return fail("the receipt names key " + rc->keyid + ", not this key");
    if (!key.verify(std::string_view(reinterpret_cast<const char*>(rc->hash.data()), rc->hash.size()), rc->sig))
        return fail("the signature does not verify");

    cmi::audit::ChainVerifier chain;
    std::vector<std::unique_ptr<std::ifstream>> streams;
    std::vector<std::pair<std::istream*, std::string>> inputs;
    for (const auto& f : files) {
        streams.push_back(std::make_unique<std::ifstream>(f, std::ios::binary));
        if (!*streams.back()) return fail("cannot open " + f);
        inputs.emplace_back(streams.back().get(), f);
    }
    if (!chain.feed_streams(inputs)) return fail("the log does not verify: " + chain.error()->reason);

    nlohmann::json begin, end;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::string line;
        while (std::getline(in, line)) {
            if (line.find(rc->txid) == std::string::npos) continue;
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object() || opt_str(j["txid"]) != rc->txid) continue;
            if (j["ev"] == "begin") begin = j;
            if (j["ev"] == "end") end = j;
        }
    }
    if (begin.is_null() || end.is_null()) return fail("the log holds no begin and end record for " + rc->txid);
    cmi::audit::ReceiptFacts facts;
    facts.txid = rc->txid;
    facts.time = begin["time"].get<std::string>();
    if (end["auth"].is_object()) facts.user = opt_str(end["auth"]["user"]);
    facts.method = opt_str(end["method"]);
    facts.uri = opt_str(end["uri"]);
    if (end["request"].is_object()) facts.digest = opt_str(end["request"]["digest"]);
    facts.status = end["status"].is_number_integer() ? end["status"].get<int>() : 0;
    const auto hash = cmi::audit::receipt_hash(facts);
    if (!std::equal(hash.begin(), hash.end(), rc->hash.begin(), rc->hash.end()))
        return fail("the facts the log holds for " + rc->txid + " do not hash to the receipt's hash");
    if (opt_str(end["receipt"]) != value) return fail("the end record of " + rc->txid + " holds another receipt");
    std::cout << "OK receipt for " << rc->txid << ": " << facts.method.value_or("-") << " " << facts.uri.value_or("-")
              << " -> " << facts.status << ", end record seq " << end["seq"] << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) return usage(2);
    if (is_help(args[0])) return usage(0);
    if (args[0] == "help") {
        if (args.size() == 1) return usage(0);
        const char* h = help_of(args[1]);
        if (!h) return usage(2);
        std::cout << h;
        return 0;
    }
    // COMMAND --help (anywhere after the command): that command's help.
    if (const char* h = help_of(args[0]))
        for (std::size_t i = 1; i < args.size(); ++i)
            if (is_help(args[i])) {
                std::cout << h;
                return 0;
            }
    try {
        if (args[0] == "verify") {
            std::size_t first = 1;
            std::optional<cmi::SignatureVerifier> key;
            if (args.size() >= 3 && args[1] == "--key") {
                key = cmi::SignatureVerifier::from_pem_file(args[2]);
                first = 3;
            }
            if (args.size() <= first) return misuse("verify");
            return verify({args.begin() + static_cast<long>(first), args.end()}, key ? &*key : nullptr);
        }
        if (args[0] == "show") {
            if (args.size() < 3) return misuse("show");
            return show(args[1], {args.begin() + 2, args.end()});
        }
        if (args[0] == "receipt") {
            if (args.size() < 5 || args[1] != "--key") return misuse("receipt");
            const auto key = cmi::SignatureVerifier::from_pem_file(args[2]);
            return receipt(key, args[3], {args.begin() + 4, args.end()});
        }
    } catch (const std::exception& e) {
        std::cerr << "cmi-audit: " << e.what() << "\n";
        return 2;
    }
    return usage(2);
}

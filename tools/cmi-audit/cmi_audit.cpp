// cmi-audit: check and read mod_cmi_audit operation logs.
//   cmi-audit verify FILE...      the chain holds across the files, in order
//   cmi-audit show TXID FILE...   the records of one operation
#include "libcmi/audit_verify.hpp"
#include "libcmi/signer.hpp"

#include <nlohmann/json.hpp>

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
    "\n"
    "verify  exit 0 if every line is a record, seq is contiguous and the hash chain\n"
    "        holds across the FILEs (any order: records are merged by seq); else exit 1\n"
    "        naming the first bad seq and the reason. With --key, every checkpoint\n"
    "        must carry a valid signature by that key (public key, certificate or\n"
    "        private key PEM) and there must be at least one; records after the last\n"
    "        checkpoint are counted as not covered (the chain alone cannot show that\n"
    "        records were cut off the end).\n"
    "show    print every record whose txid (or client_txid) is TXID; exit 1 if none.\n";

int usage(int code) {
    (code ? std::cerr : std::cout) << kUsage;
    return code;
}

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

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) return usage(2);
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") return usage(0);
    try {
        if (args[0] == "verify") {
            if (args.size() >= 2 && (args[1] == "--help" || args[1] == "-h")) return usage(0);
            std::size_t first = 1;
            std::optional<cmi::SignatureVerifier> key;
            if (args.size() >= 3 && args[1] == "--key") {
                key = cmi::SignatureVerifier::from_pem_file(args[2]);
                first = 3;
            }
            if (args.size() <= first) return usage(2);
            return verify({args.begin() + static_cast<long>(first), args.end()}, key ? &*key : nullptr);
        }
        if (args[0] == "show") {
            if (args.size() >= 2 && (args[1] == "--help" || args[1] == "-h")) return usage(0);
            if (args.size() < 3) return usage(2);
            return show(args[1], {args.begin() + 2, args.end()});
        }
    } catch (const std::exception& e) {
        std::cerr << "cmi-audit: " << e.what() << "\n";
        return 2;
    }
    return usage(2);
}

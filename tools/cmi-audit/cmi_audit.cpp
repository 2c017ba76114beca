// cmi-audit: check and read mod_cmi_audit operation logs.
//   cmi-audit verify FILE...      the chain holds across the files, in order
//   cmi-audit show TXID FILE...   the records of one operation
//   cmi-audit receipt ...         a CMI-Receipt against the log
#include "commands.hpp"

#include "libcmi/signer.hpp"

#include <iostream>
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
    "CMI-Receipt headers clients keep. FILEs may be gzip-compressed; the chain\n"
    "head file (<log>.head) is recognised and skipped, so cmi-audit.log* will do.\n"
    "See cmi-audit(1) and docs/audit-log.md.\n"
    "Exit status: 0 OK, 1 check failed, 2 usage or I/O error.\n";

constexpr const char* kVerifyHelp =
    "usage: cmi-audit verify [--key PUBKEY.pem] FILE...\n"
    "\n"
    "Exit 0 if every line of the FILEs is a record, seq is contiguous and the hash\n"
    "chain holds across the FILEs (give rotated files too, in any order: records\n"
    "are merged by seq; each file must be in order; gzip-compressed files are\n"
    "read as they are; the chain head file <log>.head is skipped, with a note on\n"
    "stderr). Otherwise exit 1 and print\n"
    "  FAIL FILE:LINE: seq N: REASON\n"
    "for the first bad record (changed, deleted, inserted, swapped or truncated).\n"
    "\n"
    "  --key PUBKEY.pem  the node's signing key (public key, certificate or private\n"
    "                    key PEM): every checkpoint record must carry a valid\n"
    "                    signature by it and there must be at least one. The output\n"
    "                    says how many records follow the last checkpoint (the chain\n"
    "                    alone cannot show that records were cut off the end).\n"
    "\n"
    "Example: cmi-audit verify --key audit-pub.pem /var/log/apache2/cmi-audit.log*\n";

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
            return cmi::audit_tool::verify({args.begin() + static_cast<long>(first), args.end()}, key ? &*key : nullptr);
        }
        if (args[0] == "show") {
            if (args.size() < 3) return misuse("show");
            return cmi::audit_tool::show(args[1], {args.begin() + 2, args.end()});
        }
        if (args[0] == "receipt") {
            if (args.size() < 5 || args[1] != "--key") return misuse("receipt");
            const auto key = cmi::SignatureVerifier::from_pem_file(args[2]);
            return cmi::audit_tool::receipt(key, args[3], {args.begin() + 4, args.end()});
        }
    } catch (const std::exception& e) {
        std::cerr << "cmi-audit: " << e.what() << "\n";
        return 2;
    }
    return usage(2);
}

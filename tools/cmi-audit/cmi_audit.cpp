// cmi-audit: check and read mod_cmi_audit operation logs.
//   cmi-audit verify FILE...      the chain holds across the files, in order
//   cmi-audit show TXID FILE...   the records of one operation
//   cmi-audit receipt ...         a CMI-Receipt against the log
//   cmi-audit evidence ...        the provider's signature the log vouches for
#include "commands.hpp"

#include "libcmi/signer.hpp"

#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: cmi-audit verify [--key PUBKEY.pem] [--evidence] [--shipped FILE] FILE...\n"
    "       cmi-audit show TXID FILE...\n"
    "       cmi-audit receipt --key PUBKEY.pem RECEIPT FILE...\n"
    "       cmi-audit evidence TXID FILE... --out DIR [--store DIR] [--key PUBKEY.pem]\n"
    "       cmi-audit COMMAND --help    (or: cmi-audit help COMMAND)\n"
    "\n"
    "Checks mod_cmi_audit operation logs (JSON Lines, one hash chain) and the\n"
    "CMI-Receipt headers clients keep. FILEs may be gzip-compressed; the chain\n"
    "head file (<log>.head) is recognised and skipped, so cmi-audit.log* will do.\n"
    "See cmi-audit(1) and docs/audit-log.md.\n"
    "Exit status: 0 OK, 1 check failed, 2 usage or I/O error.\n";

constexpr const char* kVerifyHelp =
    "usage: cmi-audit verify [--key PUBKEY.pem] [--evidence] [--store DIR] [--shipped FILE] FILE...\n"
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
    "  --evidence        every file of the evidence store a begin record names (the\n"
    "                    providers' signatures) is there, with the SHA-256 and size\n"
    "                    the record says (an insider may delete or swap them)\n"
    "  --store DIR       the evidence store (default: cmi-evidence beside each FILE);\n"
    "                    implies --evidence\n"
    "  --shipped FILE    lines copied off the host as they were written (the\n"
    "                    checkpoint records, say): each must be in the FILEs byte\n"
    "                    for byte at its seq -- a log rewritten before it, cut back,\n"
    "                    or with files left out fails, even with the key stolen\n"
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
    "  txid=\"...\", seq=N, begin=\"HEX\", hash=:BASE64:, sig=:BASE64:, keyid=\"HEX\" ).\n"
    "Exit 0 if sig is the key's signature over txid, seq, begin and hash, the\n"
    "chain of the FILEs verifies, the record seq N is the operation's begin record\n"
    "and its line (with its line feed) hashes to begin -- so a begin line altered\n"
    "after the receipt was issued fails even if every later line was re-chained --,\n"
    "the log holds the end record of that txid, and the facts recorded (txid,\n"
    "time, user, method, uri, request digest, status) hash to the receipt's hash.\n"
    "Otherwise exit 1 with the reason.\n"
    "\n"
    "  --key PUBKEY.pem  the node's signing key (public key, certificate or private\n"
    "                    key PEM). Required.\n"
    "\n"
    "Example: cmi-audit receipt --key audit-pub.pem \"$(cat receipt.txt)\" audit.log\n";

constexpr const char* kEvidenceHelp =
    "usage: cmi-audit evidence TXID FILE... --out DIR [--store DIR] [--key PUBKEY.pem]\n"
    "\n"
    "Write the evidence of origin of one upload (TXID: its CMI-Transaction-ID or\n"
    "CMI-Client-Transaction-ID; one that several operations carry is refused)\n"
    "to DIR: the provider's own signature, which the\n"
    "begin record names by SHA-256 and size and the evidence store keeps:\n"
    "  DIR/TXID.p7s                 CMS SignedData (DER) of CMI-Content-Signature\n"
    "  DIR/TXID.base .sig .keyid    RFC 9421: signature base, signature, keyid,\n"
    "  DIR/TXID.pub.pem               and the public key that verified it\n"
    "  DIR/TXID.manifest.xml        an XML-DSig-signed manifest as received\n"
    "  DIR/TXID-ITEM.p7s            each manifest item's CMS SignedData\n"
    "and print, for each, the openssl (or xmlsec1) command that checks it.\n"
    "Exit 0 when the chain of the FILEs verifies and every file is in the store\n"
    "with the SHA-256 and size the record says; exit 1 otherwise (missing or\n"
    "altered evidence, a broken chain, no evidence for TXID).\n"
    "\n"
    "  --out DIR          where to write the files (made if missing). Required.\n"
    "  --store DIR        the evidence store (default: cmi-evidence in the\n"
    "                     directory of the FILE that holds the begin record)\n"
    "  --key PUBKEY.pem   also require the log's checkpoints to verify with the\n"
    "                     node's signing key\n"
    "\n"
    "Example: cmi-audit evidence 0192f3a4-5b6c-7d8e-9f01-23456789abcd \\\n"
    "             /var/log/apache2/cmi-audit.log* --out ./evidence\n";

int usage(int code) {
    (code ? std::cerr : std::cout) << kUsage;
    return code;
}

const char* help_of(const std::string& command) {
    if (command == "verify") return kVerifyHelp;
    if (command == "show") return kShowHelp;
    if (command == "receipt") return kReceiptHelp;
    if (command == "evidence") return kEvidenceHelp;
    return nullptr;
}

// A command used wrongly: its own usage on stderr, exit 2.
int misuse(const std::string& command) {
    std::cerr << help_of(command);
    return 2;
}

bool is_help(const std::string& a) { return a == "--help" || a == "-h"; }

// cmi-audit verify [--key PUBKEY.pem] [--evidence] [--store DIR] [--shipped FILE] FILE...
int verify_command(const std::vector<std::string>& args) {
    cmi::audit_tool::VerifyOptions o;
    std::optional<cmi::SignatureVerifier> key;
    std::vector<std::string> files;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--evidence") {
            o.evidence = true;
        } else if (arg == "--key" || arg == "--store" || arg == "--shipped") {
            if (i + 1 >= args.size()) return misuse("verify");
            const std::string& value = args[++i];
            if (arg == "--key") key = cmi::SignatureVerifier::from_pem_file(value);
            else if (arg == "--store") o.store = value, o.evidence = true;
            else o.shipped = value;
        } else if (arg.rfind("--", 0) == 0) {
            return misuse("verify");
        } else {
            files.push_back(arg);
        }
    }
    if (files.empty()) return misuse("verify");
    o.key = key ? &*key : nullptr;
    return cmi::audit_tool::verify(files, o);
}

// cmi-audit evidence TXID FILE... --out DIR [--store DIR] [--key PUBKEY.pem]
int evidence_command(const std::vector<std::string>& args) {
    cmi::audit_tool::EvidenceArgs a;
    std::optional<cmi::SignatureVerifier> key;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--out" || arg == "--store" || arg == "--key") {
            if (i + 1 >= args.size()) return misuse("evidence");
            const std::string& value = args[++i];
            if (arg == "--out") a.out_dir = value;
            else if (arg == "--store") a.store = value;
            else key = cmi::SignatureVerifier::from_pem_file(value);
        } else if (arg.rfind("--", 0) == 0) {
            return misuse("evidence");
        } else if (a.txid.empty()) {
            a.txid = arg;
        } else {
            a.files.push_back(arg);
        }
    }
    if (a.txid.empty() || a.files.empty() || a.out_dir.empty()) return misuse("evidence");
    a.key = key ? &*key : nullptr;
    return cmi::audit_tool::evidence(a);
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
        if (args[0] == "verify") return verify_command(args);
        if (args[0] == "show") {
            if (args.size() < 3) return misuse("show");
            return cmi::audit_tool::show(args[1], {args.begin() + 2, args.end()});
        }
        if (args[0] == "receipt") {
            if (args.size() < 5 || args[1] != "--key") return misuse("receipt");
            const auto key = cmi::SignatureVerifier::from_pem_file(args[2]);
            return cmi::audit_tool::receipt(key, args[3], {args.begin() + 4, args.end()});
        }
        if (args[0] == "evidence") return evidence_command(args);
    } catch (const std::exception& e) {
        std::cerr << "cmi-audit: " << e.what() << "\n";
        return 2;
    }
    return usage(2);
}

// The audit-log reader (cmi-audit verify/receipt, and the module's start-up
// tail reader) reads files an attacker may have edited: every input is a
// verdict, never a crash. Bytes before the first "\n\f\n" are one file, the
// rest further files (split at each "\n\f\n") for the multi-file merge; the
// first byte's low bit asks for signed checkpoints with a throw-away key.
// Properties: a log the verifier accepts as one file ends where read_tail
// says it ends, with the same chain head.
// fuzz-sources: libcmi/audit_verify.cpp libcmi/audit_chain.cpp libcmi/sha256.cpp libcmi/signer.cpp libcmi/receipt.cpp libcmi/base64.cpp libcmi/ossl.cpp
#include "libcmi/audit_verify.hpp"
#include "libcmi/ossl.hpp"
#include "libcmi/receipt.hpp"
#include "libcmi/signer.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::optional<cmi::SignatureVerifier> key;
int tail_fd = -1;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const cmi::ossl::Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    const cmi::ossl::UniquePtr<BIO> b(BIO_new(BIO_s_mem()));
    PEM_write_bio_PUBKEY(b.get(), k.get());
    key = cmi::SignatureVerifier::from_pem(cmi::ossl::bio_text(b.get()));
    tail_fd = memfd_create("fuzz-audit-log", 0);
    return tail_fd >= 0 ? 0 : 1;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool signed_checkpoints = data[0] & 1;
    const std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);

    std::vector<std::string_view> files;
    for (std::size_t start = 0;;) {
        const std::size_t cut = all.find("\n\f\n", start);
        if (cut == std::string_view::npos || files.size() == 3) {
            files.push_back(all.substr(start));
            break;
        }
        files.push_back(all.substr(start, cut + 1 - start));
        start = cut + 3;
    }

    // One file, as `cmi-audit verify` with one FILE reads it.
    cmi::audit::ChainVerifier one;
    if (signed_checkpoints) one.require_checkpoints(&*key);
    std::istringstream first{std::string(files[0])};
    const bool ok = one.feed_stream(first, "f0");
    check(ok == !one.error().has_value());

    // The module's tail reader on the same bytes.
    check(ftruncate(tail_fd, 0) == 0);
    check(pwrite(tail_fd, files[0].data(), files[0].size(), 0) == static_cast<ssize_t>(files[0].size()));
    const cmi::audit::LogTail tail = cmi::audit::read_tail(tail_fd);
    check(tail.valid_size >= 0 && static_cast<std::size_t>(tail.valid_size) <= files[0].size());
    check(tail.torn == (!files[0].empty() && files[0].back() != '\n'));
    if (ok && one.records() > 0) {
        check(tail.error.empty() && !tail.torn);
        check(static_cast<std::size_t>(tail.valid_size) == files[0].size());
        check(tail.head.seq == one.head().seq && tail.head.hash == one.head().hash);
    }

    // Several files merged by seq, as `cmi-audit verify A B C` reads them.
    std::vector<std::unique_ptr<std::istringstream>> streams;
    std::vector<std::pair<std::istream*, std::string>> inputs;
    for (std::size_t i = 0; i < files.size(); ++i) {
        streams.push_back(std::make_unique<std::istringstream>(std::string(files[i])));
        inputs.emplace_back(streams.back().get(), "f" + std::to_string(i));
    }
    cmi::audit::ChainVerifier merged;
    if (signed_checkpoints) merged.require_checkpoints(&*key);
    const bool merged_ok = merged.feed_streams(inputs);
    check(merged_ok == !merged.error().has_value());
    if (files.size() == 1) check(merged_ok == ok && merged.records() == one.records());

    // `cmi-audit receipt` parses the header value a client hands in.
    if (const auto rc = cmi::audit::parse_receipt(all)) check(rc->hash.size() == 32);
    return 0;
}

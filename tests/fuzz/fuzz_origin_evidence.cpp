// Evidence of origin: the RFC 9421 signature base a client chose is redacted
// before it is kept, and the item lists cmi-audit reads back from the
// evidence store (which an insider can edit) are parsed. Properties: the
// redaction keeps every line but never the value of a credential component
// (authorization, proxy-authorization, cookie) or a query, and is idempotent
// in what it keeps; the item note and index round-trip and their parsers
// never crash on any bytes.
// fuzz-sources: libcmi/origin_evidence.cpp libcmi/base64.cpp libcmi/sha256.cpp libcmi/ossl.cpp
#include "libcmi/origin_evidence.hpp"
#include "fuzzed_input.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::FuzzedInput in(data, size);
    const std::string secret = "S3cret-" + in.ConsumeRandomLengthString(20);
    const std::string name = in.PickValueInArray<const char*>({"authorization", "Authorization", "cookie", "proxy-authorization",
                                                  "@query", "content-digest", "@method"});
    const std::string before = in.ConsumeRandomLengthString(200), after = in.ConsumeRandomLengthString(4096);
    const bool credential = name != "content-digest" && name != "@method";
    // A base with one component line holding the secret somewhere inside.
    const std::string base = before + "\n\"" + name + "\": x" + secret + "\n" + after;
    bool redacted = false;
    const std::string kept = cmi::audit::redact_signature_base(base, redacted);
    check(lines(kept) == lines(base));
    if (credential && before.find('\n') == std::string::npos && secret.find('\n') == std::string::npos) {
        const std::size_t line_start = before.size() + 1;
        const std::size_t line_end = kept.find('\n', line_start);
        check(redacted);
        check(kept.substr(line_start, line_end - line_start).find(secret) == std::string::npos);
    }
    bool again = false;
    cmi::audit::redact_signature_base(kept, again);  // redacting what was kept keeps it parseable

    // Whatever the store holds, the parsers only say yes or no.
    cmi::audit::parse_items_index(base);
    cmi::audit::parse_items_note(base);
    const std::vector<cmi::audit::ItemSignature> items{{before, after, secret}};
    const auto note = cmi::audit::parse_items_note(cmi::audit::format_items_note(items));
    check(note && note->size() == 1 && note->front().cms == secret);
    const std::vector<cmi::audit::IndexedItem> index{{before, after, std::string(64, 'a'), size}};
    const auto back = cmi::audit::parse_items_index(cmi::audit::format_items_index(index));
    check(back && back->size() == 1 && back->front().bytes == size);
    return 0;
}

// Problem documents carry client-influenced text (URIs, names) in `detail`:
// whatever goes in must come out as one line of valid JSON that parses back to
// one object with the same detail and transaction id (invalid UTF-8 replaced).
// The first byte picks the problem code, the rest up to the first NUL is the
// transaction id, the rest the detail.
// fuzz-sources: libcmi/problem.cpp
#include "libcmi/problem.hpp"
#include "utf8.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

const char* const kCodes[] = {
    "tls-required",        "tls-too-weak",     "authentication-required", "authentication-failed",
    "forbidden",           "signature-required", "signature-malformed",   "digest-mismatch",
    "signature-invalid",   "signer-untrusted", "signer-not-bound",        "manifest-malformed",
    "content-missing",     "too-large",        "audit-unavailable",       "authentication-unavailable",
};

void check(bool ok) {
    if (!ok) __builtin_trap();
}

void same(const nlohmann::json& j, std::string_view want) {
    check(j.is_string());
    const auto got = j.get<std::string>();
    if (fuzz::valid_utf8(want))
        check(got == want);
    else
        check(fuzz::valid_utf8(got) && got.find("\xEF\xBF\xBD") != std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const char* code = kCodes[data[0] % (sizeof kCodes / sizeof kCodes[0])];
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t nul = rest.find('\0');
    const std::string_view txid = nul == std::string_view::npos ? std::string_view() : rest.substr(0, nul);
    const std::string_view detail = nul == std::string_view::npos ? rest : rest.substr(nul + 1);

    const std::string text = cmi::problem_json(code, detail, txid);
    check(text.find('\n') == std::string::npos && text.find('\r') == std::string::npos);
    const auto doc = nlohmann::json::parse(text);  // throws (and so crashes) if invalid
    const cmi::ProblemType* t = cmi::find_problem_type(code);
    check(doc.is_object() && doc.size() == 5);
    check(doc["type"] == std::string(cmi::kProblemTypePrefix) + code);
    check(doc["status"] == t->status && doc["title"] == t->title);
    same(doc["detail"], detail);
    same(doc["transaction_id"], txid);
    return 0;
}

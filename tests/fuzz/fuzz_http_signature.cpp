// Signature-Input / Signature / Content-Digest as a client sends them: every
// outcome is a parsed signature or a ValidationError, never anything else; a
// parsed signature covers each component once. Seeds include hundreds of
// components and labels (the duplicate check and the label lookup are indexed).
// fuzz-sources: libcmi/http_signature.cpp libcmi/http_signature_crypto.cpp libcmi/signer_policy.cpp libcmi/structured_field.cpp libcmi/base64.cpp libcmi/content_digest.cpp libcmi/digest.cpp libcmi/ossl.cpp
// fuzz-options: -max_len=16384
#include "libcmi/content_digest.hpp"
#include "libcmi/http_signature.hpp"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const size_t cut = in.find('\n');
    const std::string_view input = in.substr(0, cut);
    const std::string_view sig = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 1);
    try {
        const auto s = cmi::httpsig::parse_signature_fields(input, sig);
        const std::set<std::string> unique(s.params.components.begin(), s.params.components.end());
        if (unique.size() != s.params.components.size()) __builtin_trap();
        cmi::httpsig::Request r;
        r.method = "PUT";
        r.scheme = "https";
        r.authority = "cmc.example";
        r.path = "/x";
        r.field = [](const std::string& n) -> std::optional<std::string> { return "v-" + n; };
        (void)cmi::httpsig::signature_base(s.params, r);
        (void)cmi::httpsig::valid_keyid(s.params.keyid);
    } catch (const cmi::ValidationError&) {
    }
    try {
        (void)cmi::parse_content_digest(in, {cmi::DigestAlg::sha256, cmi::DigestAlg::sha512});
    } catch (const cmi::ContentDigestError&) {
    }
    return 0;
}

// A CMS SignedData without its certificates, for verifying many signatures
// made with one certificate set (a manifest's items): in OpenSSL 3 decoding
// a certificate costs more than verifying the ECDSA signature it carries, so
// the set is decoded once and the rest of each CMS is parsed without it.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace cmi {

struct CmsWithoutCertificates {
    std::string der;               // the same ContentInfo, certificates [0] left out
    std::string_view certificates; // the certificates element as it was (tag, length, content)
};

// nullopt when `der` is not a definite-length ContentInfo{SignedData} that
// carries certificates: the caller then parses `der` as it is. Only lengths
// are rewritten; every other byte is copied.
std::optional<CmsWithoutCertificates> without_certificates(std::string_view der);

}  // namespace cmi

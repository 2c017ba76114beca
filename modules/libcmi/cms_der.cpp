#include "libcmi/cms_der.hpp"

#include <openssl/asn1.h>

#include <climits>

namespace cmi {
namespace {

struct Tlv {
    std::size_t at = 0;   // offset of the tag
    std::size_t hdr = 0;  // tag and length bytes
    std::size_t len = 0;  // content bytes
    int tag = 0;
    int cls = 0;
    bool constructed = false;
    std::size_t end() const { return at + hdr + len; }
    std::size_t content() const { return at + hdr; }
};

// The element at `at`, which must end by `limit`; definite lengths only (DER).
std::optional<Tlv> element(std::string_view der, std::size_t at, std::size_t limit) {
    if (at >= limit || limit > der.size() || limit - at > static_cast<std::size_t>(LONG_MAX)) return std::nullopt;
    const auto* start = reinterpret_cast<const unsigned char*>(der.data()) + at;
    const unsigned char* p = start;
    long len = 0;
    int tag = 0, cls = 0;
    const int flags = ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(limit - at));
    if (flags & 0x80) return std::nullopt;  // malformed, or longer than `limit`
    if (flags == 0x21) return std::nullopt; // indefinite length (BER)
    Tlv t;
    t.at = at;
    t.hdr = static_cast<std::size_t>(p - start);
    t.len = static_cast<std::size_t>(len);
    t.tag = tag;
    t.cls = cls;
    t.constructed = flags & V_ASN1_CONSTRUCTED;
    if (t.end() > limit) return std::nullopt;
    return t;
}

bool is(const std::optional<Tlv>& t, int cls, int tag, bool constructed) {
    return t && t->cls == cls && t->tag == tag && t->constructed == constructed;
}

void put_header(std::string& out, int tag, int cls, std::size_t len) {
    unsigned char buf[16];
    unsigned char* p = buf;
    ASN1_put_object(&p, 1, static_cast<int>(len), tag, cls);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(p - buf));
}

std::size_t header_size(int tag, std::size_t len) {
    return static_cast<std::size_t>(ASN1_object_size(1, static_cast<int>(len), tag)) - len;
}

}  // namespace

// ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT SignedData }
// SignedData  ::= SEQUENCE { version INTEGER, digestAlgorithms SET, encapContentInfo
//                 SEQUENCE, certificates [0] IMPLICIT OPTIONAL, crls [1] OPTIONAL, signerInfos SET }
std::optional<CmsWithoutCertificates> without_certificates(std::string_view der) {
    if (der.size() > INT_MAX / 2) return std::nullopt;
    const auto info = element(der, 0, der.size());
    if (!is(info, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true) || info->end() != der.size()) return std::nullopt;
    const auto type = element(der, info->content(), info->end());
    if (!is(type, V_ASN1_UNIVERSAL, V_ASN1_OBJECT, false)) return std::nullopt;
    const auto explicit0 = element(der, type->end(), info->end());
    if (!is(explicit0, V_ASN1_CONTEXT_SPECIFIC, 0, true) || explicit0->end() != info->end()) return std::nullopt;
    const auto sd = element(der, explicit0->content(), explicit0->end());
    if (!is(sd, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true) || sd->end() != explicit0->end()) return std::nullopt;
    const auto version = element(der, sd->content(), sd->end());
    if (!is(version, V_ASN1_UNIVERSAL, V_ASN1_INTEGER, false)) return std::nullopt;
    const auto algs = element(der, version->end(), sd->end());
    if (!is(algs, V_ASN1_UNIVERSAL, V_ASN1_SET, true)) return std::nullopt;
    const auto encap = element(der, algs->end(), sd->end());
    if (!is(encap, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true)) return std::nullopt;
    const auto certs = element(der, encap->end(), sd->end());
    if (!is(certs, V_ASN1_CONTEXT_SPECIFIC, 0, true)) return std::nullopt;

    const std::size_t cut = certs->end() - certs->at;
    const std::size_t sd_len = sd->len - cut;
    const std::size_t explicit_len = header_size(V_ASN1_SEQUENCE, sd_len) + sd_len;
    const std::size_t info_len = (type->end() - type->at) + header_size(0, explicit_len) + explicit_len;
    CmsWithoutCertificates out;
    out.der.reserve(der.size());
    put_header(out.der, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, info_len);
    out.der.append(der.substr(type->at, type->end() - type->at));
    put_header(out.der, 0, V_ASN1_CONTEXT_SPECIFIC, explicit_len);
    put_header(out.der, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, sd_len);
    out.der.append(der.substr(sd->content(), certs->at - sd->content()));
    out.der.append(der.substr(certs->end(), sd->end() - certs->end()));
    out.certificates = der.substr(certs->at, cut);
    return out;
}

}  // namespace cmi

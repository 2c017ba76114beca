#include "libcmi/signer_vars.hpp"

#include "libcmi/ossl.hpp"
#include "libcmi/x509_name.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <memory>

namespace cmi {
namespace {

struct Attr {
    const char* name;
    int nid;
};

// mod_ssl's list (ssl_engine_vars.c), in its spelling.
constexpr Attr kAttrs[] = {
    {"C", NID_countryName},       {"ST", NID_stateOrProvinceName}, {"SP", NID_stateOrProvinceName},
    {"L", NID_localityName},      {"O", NID_organizationName},     {"OU", NID_organizationalUnitName},
    {"CN", NID_commonName},       {"T", NID_title},                {"I", NID_initials},
    {"G", NID_givenName},         {"S", NID_surname},              {"D", NID_description},
    {"UID", NID_userId},          {"Email", NID_pkcs9_emailAddress},
};

std::string time_text(const ASN1_TIME* t) {
    const ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    if (!bio) return {};
    ASN1_TIME_print(bio.get(), t);
    return ossl::bio_text(bio.get());
}

void add_name(SignerVars& out, const std::string& prefix, const X509_NAME* name) {
    out.emplace_back(prefix, rfc2253(name));
    for (const Attr& a : kAttrs) {
        int idx = -1, n = 0;
        while ((idx = X509_NAME_get_index_by_NID(name, a.nid, idx)) >= 0) {
            std::string key = prefix + "_" + a.name;
            if (n) key += "_" + std::to_string(n);
            out.emplace_back(key, utf8_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx))));
            ++n;
        }
    }
}

bool digits(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

}  // namespace

SignerVars signer_variables(const X509* cert) {
    SignerVars out;
    if (!cert) return out;
    add_name(out, "SIGNER_S_DN", X509_get_subject_name(cert));
    add_name(out, "SIGNER_I_DN", X509_get_issuer_name(cert));
    if (const ossl::UniquePtr<BIGNUM> bn{ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)})
        if (const ossl::UniquePtr<char> hexs{BN_bn2hex(bn.get())}) out.emplace_back("SIGNER_M_SERIAL", hexs.get());
    out.emplace_back("SIGNER_V_START", time_text(X509_get0_notBefore(cert)));
    out.emplace_back("SIGNER_V_END", time_text(X509_get0_notAfter(cert)));
    const ossl::UniquePtr<GENERAL_NAMES> sans(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    int email = 0, dns = 0;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans.get(), i);
        if (g->type == GEN_EMAIL) out.emplace_back("SIGNER_SAN_Email_" + std::to_string(email++), utf8_of(g->d.rfc822Name));
        else if (g->type == GEN_DNS) out.emplace_back("SIGNER_SAN_DNS_" + std::to_string(dns++), utf8_of(g->d.dNSName));
    }
    return out;
}

bool is_signer_variable(std::string_view name) noexcept {
    if (name == "SIGNER_M_SERIAL" || name == "SIGNER_V_START" || name == "SIGNER_V_END") return true;
    for (std::string_view p : {"SIGNER_SAN_Email_", "SIGNER_SAN_DNS_"})
        if (name.substr(0, p.size()) == p) return digits(name.substr(p.size()));
    for (std::string_view p : {"SIGNER_S_DN", "SIGNER_I_DN"}) {
        if (name.substr(0, p.size()) != p) continue;
        std::string_view rest = name.substr(p.size());
        if (rest.empty()) return true;
        if (rest[0] != '_') return false;
        rest.remove_prefix(1);
        for (const Attr& a : kAttrs) {
            const std::string_view an(a.name);
            if (rest.substr(0, an.size()) != an) continue;
            const std::string_view tail = rest.substr(an.size());
            if (tail.empty() || (tail[0] == '_' && digits(tail.substr(1)))) return true;
        }
        return false;
    }
    return false;
}

const std::string* find_signer_variable(const SignerVars& vars, std::string_view name) noexcept {
    for (const auto& [k, v] : vars)
        if (k == name) return &v;
    return nullptr;
}

}  // namespace cmi

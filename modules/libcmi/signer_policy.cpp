#include "libcmi/signer_policy.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <memory>
#include <stdexcept>

namespace cmi {
namespace {

// The purposes that mean "may sign content": S/MIME (emailProtection), code
// signing, documentSigning (RFC 9336) and any.
constexpr const char* kContentPurposes[] = {"1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.3", "1.3.6.1.5.5.7.3.36",
                                            "2.5.29.37.0"};
constexpr const char* kServerAuth = "1.3.6.1.5.5.7.3.1";
constexpr std::size_t kMinRsaBits = 2048;
constexpr int kMinEcBits = 256;

std::string dotted(const ASN1_OBJECT* o) {
    char buf[128];
    const int n = OBJ_obj2txt(buf, sizeof buf, o, 1);
    return n > 0 && static_cast<std::size_t>(n) < sizeof buf ? std::string(buf) : std::string();
}

// The name an admin knows (serverAuth) where OpenSSL has one, else the OID.
std::string purpose_name(const ASN1_OBJECT* o) {
    const int nid = OBJ_obj2nid(o);
    if (nid != NID_undef)
        if (const char* sn = OBJ_nid2sn(nid)) return sn;
    return dotted(o);
}

bool is_content_purpose(const std::string& oid) {
    for (const char* p : kContentPurposes)
        if (oid == p) return true;
    return false;
}

// Arcs of digits separated by single dots, at least two.
bool dotted_syntax(const std::string& s) {
    if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != std::string::npos) return false;
    return s.find('.') != std::string::npos && s.find_first_not_of("0123456789.") == std::string::npos;
}

}  // namespace

void KeyPurposes::add(const std::string& name) {
    const bool numeric = !name.empty() && std::isdigit(static_cast<unsigned char>(name[0]));
    ossl::UniquePtr<ASN1_OBJECT> o;
    if (numeric ? dotted_syntax(name) : OBJ_txt2nid(name.c_str()) != NID_undef)
        o.reset(OBJ_txt2obj(name.c_str(), numeric ? 1 : 0));
    ERR_clear_error();
    if (!o) throw std::invalid_argument("'" + name + "' is not an OID or a known extended key usage name "
                                        "(e.g. clientAuth or 1.3.6.1.5.5.7.3.2)");
    std::string d = dotted(o.get());
    if (d.empty()) throw std::invalid_argument("'" + name + "' is not a usable OID");
    // Every TLS server certificate of the trusted CAs carries it: allowing it
    // would let any web server's key sign content again.
    if (d == kServerAuth)
        throw std::invalid_argument("'" + name + (name == "serverAuth" ? "'" : "' (serverAuth)") +
                                    " would let any TLS server certificate of the trusted "
                                    "CAs sign content; give the signers certificates for content signing "
                                    "(emailProtection, documentSigning) or list a purpose of their own");
    oids_.push_back(std::move(d));
}

bool KeyPurposes::contains(const std::string& dotted_oid) const {
    for (const auto& o : oids_)
        if (o == dotted_oid) return true;
    return false;
}

RevocationList::RevocationList(const std::string& file) : crls_(sk_X509_CRL_new_null()), file_(file) {
    if (!crls_) throw std::runtime_error("out of memory");
    const auto bio = ossl::readable_file_bio(file);
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) sk_X509_CRL_push(crls(), crl);
    if (sk_X509_CRL_num(crls()) == 0 && BIO_reset(bio.get()) == 0)  // one DER CRL
        if (X509_CRL* crl = d2i_X509_CRL_bio(bio.get(), nullptr)) sk_X509_CRL_push(crls(), crl);
    ERR_clear_error();
    if (sk_X509_CRL_num(crls()) == 0)
        throw std::runtime_error("'" + file + "' holds no CRL (PEM \"X509 CRL\" blocks or one DER CRL)");
}

void check_key_strength(EVP_PKEY* key, const std::string& who) {
    const int bits = EVP_PKEY_get_bits(key);
    if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS") || EVP_PKEY_is_a(key, "DSA")) {
        if (bits < static_cast<int>(kMinRsaBits))
            throw ValidationError("signer-untrusted", who + " has a " + std::to_string(bits) +
                                                          "-bit RSA/DSA key: at least 2048 bits are required");
    } else if (EVP_PKEY_is_a(key, "EC") || EVP_PKEY_is_a(key, "SM2")) {
        if (bits < kMinEcBits) {
            char group[64] = "";
            std::size_t len = 0;
            EVP_PKEY_get_group_name(key, group, sizeof group, &len);
            throw ValidationError("signer-untrusted", who + " has an EC key on " +
                                                          (*group ? std::string(group) : std::string("a curve")) +
                                                          " (" + std::to_string(bits) +
                                                          " bits): P-256 or a stronger curve is required");
        }
    }
}

void check_key_purpose(X509* cert, const KeyPurposes* extra, const std::string& who) {
    if (!(X509_get_extension_flags(cert) & EXFLAG_XKUSAGE)) return;  // no EKU: any purpose
    int crit = 0;
    const ossl::UniquePtr<EXTENDED_KEY_USAGE> eku(
        static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, nullptr)));
    ERR_clear_error();
    if (!eku) throw ValidationError("signer-untrusted", who + "'s extended key usage cannot be read");
    std::string names;
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
        const ASN1_OBJECT* o = sk_ASN1_OBJECT_value(eku.get(), i);
        const std::string oid = dotted(o);
        if (is_content_purpose(oid) || (extra && extra->contains(oid))) return;
        names += (names.empty() ? "" : ", ") + purpose_name(o);
    }
    throw ValidationError("signer-untrusted",
                          who + "'s extended key usage (" + names +
                              ") does not allow content signing: it needs emailProtection, codeSigning, "
                              "documentSigning or anyExtendedKeyUsage, or an OID listed by CMIContentSignerEKU");
}

void check_pinned_revocation(X509* cert, const RevocationList& crls, std::time_t now, const std::string& who) {
    const X509_NAME* issuer = X509_get_issuer_name(cert);
    for (int i = 0; i < sk_X509_CRL_num(crls.crls()); ++i) {
        X509_CRL* crl = sk_X509_CRL_value(crls.crls(), i);
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), issuer) != 0) continue;
        const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
        if (next && X509_cmp_time(next, &now) < 0)
            throw ValidationError("signer-untrusted", who + " cannot be checked: the CRL of its issuer in " +
                                                          crls.file() + " has expired");
        X509_REVOKED* revoked = nullptr;
        if (X509_CRL_get0_by_cert(crl, &revoked, cert) == 1)
            throw ValidationError("signer-untrusted", who + " has been revoked (" + crls.file() + ")");
    }
}

}  // namespace cmi

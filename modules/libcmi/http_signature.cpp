#include "libcmi/http_signature.hpp"

#include "libcmi/structured_field.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <string_view>

namespace cmi::httpsig {
namespace {

[[noreturn]] void malformed(const std::string& why) { throw ValidationError("signature-malformed", why); }

struct AlgName {
    Alg alg;
    const char* name;
};
constexpr AlgName kAlgs[] = {
    {Alg::ed25519, "ed25519"},
    {Alg::ecdsa_p256_sha256, "ecdsa-p256-sha256"},
    {Alg::ecdsa_p384_sha384, "ecdsa-p384-sha384"},
    {Alg::rsa_pss_sha512, "rsa-pss-sha512"},
    {Alg::rsa_v1_5_sha256, "rsa-v1_5-sha256"},
};

const std::string* string_param(const sf::Parameters& p, const char* key) {
    const sf::BareItem* v = sf::find(p, key);
    if (!v) return nullptr;
    const auto* s = std::get_if<sf::String>(v);
    if (!s) malformed(std::string("Signature-Input parameter '") + key + "' must be a string");
    return &s->value;
}

std::optional<int64_t> int_param(const sf::Parameters& p, const char* key) {
    const sf::BareItem* v = sf::find(p, key);
    if (!v) return std::nullopt;
    const auto* i = std::get_if<int64_t>(v);
    if (!i) malformed(std::string("Signature-Input parameter '") + key + "' must be an integer");
    return *i;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return {};
    const size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

std::string component_value(const std::string& id, const Request& rq) {
    const std::string path = rq.path.empty() ? "/" : rq.path;
    const std::string query = rq.has_query ? "?" + rq.query : "";
    if (id == "@method") return rq.method;
    if (id == "@scheme") return lower(rq.scheme);
    if (id == "@authority") return lower(rq.authority);
    if (id == "@target-uri") return lower(rq.scheme) + "://" + lower(rq.authority) + path + query;
    if (id == "@request-target") return path + query;
    if (id == "@path") return path;
    if (id == "@query") return rq.has_query ? query : "?";
    if (id[0] == '@') malformed("covered component " + id + " is not supported");
    const auto v = rq.field ? rq.field(id) : std::nullopt;
    if (!v) malformed("covered header field '" + id + "' is not in the request");
    return trim(*v);
}

bool ec_curve_is(EVP_PKEY* key, const char* curve) {
    char name[64] = {0};
    size_t len = 0;
    return EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_group_name(key, name, sizeof name, &len) == 1 &&
           std::strcmp(name, curve) == 0;
}

bool fits(Alg alg, EVP_PKEY* key) {
    switch (alg) {
    case Alg::ed25519: return EVP_PKEY_is_a(key, "ED25519");
    case Alg::ecdsa_p256_sha256: return ec_curve_is(key, "prime256v1");
    case Alg::ecdsa_p384_sha384: return ec_curve_is(key, "secp384r1");
    case Alg::rsa_pss_sha512:
    case Alg::rsa_v1_5_sha256: return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;
    }
    return false;
}

}  // namespace

std::optional<std::string> raw_ecdsa_to_der(std::string_view sig, size_t half) {
    if (sig.size() != 2 * half) return std::nullopt;
    ECDSA_SIG* es = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), static_cast<int>(half), nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data() + half), static_cast<int>(half), nullptr);
    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return std::nullopt;
    }
    unsigned char* der = nullptr;
    const int n = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (n <= 0) return std::nullopt;
    std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
    return out;
}

void PkeyFree::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

std::optional<Alg> alg_from_name(std::string_view name) {
    for (const auto& a : kAlgs)
        if (name == a.name) return a.alg;
    return std::nullopt;
}

const char* alg_name(Alg alg) {
    for (const auto& a : kAlgs)
        if (a.alg == alg) return a.name;
    return "?";
}

Signature parse_signature_fields(std::string_view signature_input, std::string_view signature) {
    sf::Dictionary inputs, sigs;
    try {
        inputs = sf::parse_dictionary(signature_input);
        sigs = sf::parse_dictionary(signature);
    } catch (const sf::ParseError& e) {
        malformed(std::string("Signature-Input/Signature are not structured-field dictionaries: ") + e.what());
    }
    // Labels looked up through an index: a scan of Signature per Signature-Input
    // label would be quadratic in what a client sends.
    std::map<std::string_view, const sf::Member*> sig_by_label;
    for (const auto& [label, member] : sigs) sig_by_label.emplace(label, &member);
    for (const auto& [label, member] : inputs) {
        const auto found = sig_by_label.find(label);
        if (found == sig_by_label.end()) continue;
        const sf::Member* sig = found->second;
        const auto* list = std::get_if<sf::InnerList>(&member);
        if (!list) malformed("Signature-Input '" + label + "' is not an inner list of components");
        const auto* sig_item = std::get_if<sf::Item>(sig);
        const auto* bytes = sig_item ? std::get_if<sf::ByteSeq>(&sig_item->value) : nullptr;
        if (!bytes) malformed("Signature '" + label + "' is not a byte sequence");

        Signature out;
        out.value = bytes->value;
        Params& p = out.params;
        p.label = label;
        std::set<std::string_view> covered;  // the duplicate check, in O(n log n)
        for (const sf::Item& c : list->items) {
            const auto* id = std::get_if<sf::String>(&c.value);
            if (!id || id->value.empty()) malformed("a covered component identifier must be a non-empty string");
            if (!c.params.empty()) malformed("component parameters (\"" + id->value + "\";...) are not supported");
            if (id->value != lower(id->value)) malformed("component identifiers must be lower case");
            if (!covered.insert(id->value).second) malformed("component \"" + id->value + "\" is covered twice");
            p.components.push_back(id->value);
        }
        const std::string* keyid = string_param(list->params, "keyid");
        if (!keyid) malformed("Signature-Input '" + label + "' has no keyid");
        p.keyid = *keyid;
        if (const std::string* alg = string_param(list->params, "alg")) {
            p.alg = alg_from_name(*alg);
            if (!p.alg) malformed("signature algorithm '" + *alg + "' is not accepted");
        }
        p.created = int_param(list->params, "created");
        p.expires = int_param(list->params, "expires");
        if (const std::string* nonce = string_param(list->params, "nonce")) p.nonce = *nonce;
        p.serialized = sf::serialize(*list);
        return out;
    }
    malformed("no Signature-Input label has a matching Signature");
}

std::string signature_base(const Params& params, const Request& request) {
    std::string base;
    for (const std::string& id : params.components) {
        const std::string v = component_value(id, request);
        if (v.find_first_of("\r\n") != std::string::npos) malformed("component " + id + " contains a line break");
        base += "\"" + id + "\": " + v + "\n";
    }
    return base + "\"@signature-params\": " + params.serialized;
}

void check_times(const Params& p, std::time_t now, long skew, long max_age) {
    if (!p.created) malformed("Signature-Input has no created parameter");
    if (*p.created > now + skew) throw ValidationError("signature-invalid", "the signature was created in the future");
    if (p.expires && *p.expires + skew < now) throw ValidationError("signature-invalid", "the signature has expired");
    if (max_age > 0 && *p.created + max_age + skew < now)
        throw ValidationError("signature-invalid", "the signature is too old (created more than " +
                                                       std::to_string(max_age) + " s ago)");
}

void require_component(const Params& p, const std::string& component) {
    if (std::find(p.components.begin(), p.components.end(), component) == p.components.end())
        malformed("the signature must cover \"" + component + "\"");
}

void require_target(const Params& p, bool several_hosts) {
    auto covers = [&p](const char* c) { return std::find(p.components.begin(), p.components.end(), c) != p.components.end(); };
    if (covers("@target-uri")) return;
    const bool path = covers("@path") || covers("@request-target");
    if (path && (!several_hosts || covers("@authority"))) return;
    if (path)
        malformed("the signature must cover \"@authority\" with \"@path\" (this server answers for several host "
                  "names), or cover \"@target-uri\"");
    malformed(std::string("the signature must cover the request's target: \"@target-uri\", or \"@path\"") +
              (several_hosts ? " with \"@authority\"" : ""));
}

bool valid_keyid(std::string_view keyid) {
    if (keyid.empty() || keyid.size() > 128 || !std::isalnum(static_cast<unsigned char>(keyid[0]))) return false;
    for (char c : keyid)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
    return true;
}

Pkey public_key_from_pem(std::string_view pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) return nullptr;
    EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    if (!key) {
        BIO_free(bio);
        bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
        if (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
            key = X509_get_pubkey(cert);
            X509_free(cert);
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    return Pkey(key);
}

std::string read_key_file(const std::string& pem_file) {
    BIO* bio = BIO_new_file(pem_file.c_str(), "r");
    if (!bio) {
        ERR_clear_error();
        return {};
    }
    std::string pem;
    char buf[4096];
    int n;
    while ((n = BIO_read(bio, buf, sizeof buf)) > 0 && pem.size() < 1 << 20) pem.append(buf, static_cast<size_t>(n));
    BIO_free(bio);
    return pem;
}

Pkey load_public_key(const std::string& pem_file) { return public_key_from_pem(read_key_file(pem_file)); }

void check_signer_key(std::string_view pem, EVP_PKEY* key, std::time_t now, const std::string& keyid,
                      const KeyPurposes* purposes, const RevocationList* crls) {
    const std::string who = "the key of keyid '" + keyid + "'";
    check_key_strength(key, who);
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) throw std::runtime_error("out of memory");
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ERR_clear_error();
    if (!cert) return;  // a bare public key
    std::unique_ptr<X509, void (*)(X509*)> guard(cert, X509_free);
    const std::string of = "the certificate of keyid '" + keyid + "'";
    if (X509_cmp_time(X509_get0_notBefore(cert), &now) > 0)
        throw ValidationError("signer-untrusted", of + " is not yet valid");
    if (X509_cmp_time(X509_get0_notAfter(cert), &now) < 0) throw ValidationError("signer-untrusted", of + " has expired");
    if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) &&
        !(X509_get_key_usage(cert) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
        throw ValidationError("signer-untrusted", of + " does not allow digital signatures (key usage)");
    check_key_purpose(cert, purposes, of);
    if (crls) check_pinned_revocation(cert, *crls, now, of);
}

Alg resolve_alg(const std::optional<Alg>& declared, EVP_PKEY* key) {
    if (declared) {
        if (!fits(*declared, key))
            throw ValidationError("signature-invalid",
                                  std::string("the key does not fit signature algorithm ") + alg_name(*declared));
        return *declared;
    }
    for (Alg a : {Alg::ed25519, Alg::ecdsa_p256_sha256, Alg::ecdsa_p384_sha384})
        if (fits(a, key)) return a;
    malformed("Signature-Input needs an alg parameter for this key type");
}

bool verify_base(Alg alg, EVP_PKEY* key, std::string_view base, std::string_view sig) {
    if (!fits(alg, key)) return false;
    std::string der;
    const EVP_MD* md = nullptr;
    switch (alg) {
    case Alg::ed25519: break;
    case Alg::ecdsa_p256_sha256:
    case Alg::ecdsa_p384_sha384: {
        const bool p256 = alg == Alg::ecdsa_p256_sha256;
        auto d = raw_ecdsa_to_der(sig, p256 ? 32 : 48);
        if (!d) return false;
        der = std::move(*d);
        sig = der;
        md = p256 ? EVP_sha256() : EVP_sha384();
        break;
    }
    case Alg::rsa_pss_sha512: md = EVP_sha512(); break;
    case Alg::rsa_v1_5_sha256: md = EVP_sha256(); break;
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    bool ok = ctx && EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, key) == 1;
    if (ok && alg == Alg::rsa_pss_sha512)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha512()) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 64) == 1;
    if (ok && alg == Alg::rsa_v1_5_sha256) ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    ok = ok && EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                reinterpret_cast<const unsigned char*>(base.data()), base.size()) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

std::string sign_base(Alg alg, EVP_PKEY* key, std::string_view base) {
    if (!fits(alg, key)) throw std::runtime_error(std::string("the key does not fit ") + alg_name(alg));
    const EVP_MD* md = nullptr;
    if (alg == Alg::ecdsa_p256_sha256 || alg == Alg::rsa_v1_5_sha256) md = EVP_sha256();
    if (alg == Alg::ecdsa_p384_sha384) md = EVP_sha384();
    if (alg == Alg::rsa_pss_sha512) md = EVP_sha512();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    size_t n = 0;
    bool ok = ctx && EVP_DigestSignInit(ctx, &pctx, md, nullptr, key) == 1;
    if (ok && alg == Alg::rsa_pss_sha512)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha512()) == 1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 64) == 1;
    const auto* in = reinterpret_cast<const unsigned char*>(base.data());
    ok = ok && EVP_DigestSign(ctx, nullptr, &n, in, base.size()) == 1;
    std::string sig(n, '\0');
    ok = ok && EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n, in, base.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) throw std::runtime_error("signing failed");
    sig.resize(n);
    if (alg != Alg::ecdsa_p256_sha256 && alg != Alg::ecdsa_p384_sha384) return sig;
    const int half = alg == Alg::ecdsa_p256_sha256 ? 32 : 48;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    if (!es) throw std::runtime_error("signing failed");
    std::string raw(static_cast<size_t>(2 * half), '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), half);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data() + half), half);
    ECDSA_SIG_free(es);
    return raw;
}

Pkey load_private_key(const std::string& pem_file) {
    BIO* bio = BIO_new_file(pem_file.c_str(), "r");
    EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    ERR_clear_error();
    return Pkey(key);
}

}  // namespace cmi::httpsig

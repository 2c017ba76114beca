#include "libcmi/cms_signature.hpp"

#include "libcmi/cms_der.hpp"
#include "libcmi/ossl.hpp"
#include "libcmi/sha256.hpp"
#include "libcmi/signer_chain.hpp"
#include "libcmi/x509_name.hpp"

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>

namespace cmi {
namespace {

[[noreturn]] void malformed(const std::string& why) {
    ERR_clear_error();
    throw ValidationError("signature-malformed", "CMI-Content-Signature: " + why);
}

// Only SHA-256 and SHA-512 (and only those configured) may name the digest.
DigestAlg digest_alg_of(int nid, const std::vector<DigestAlg>& accepted) {
    std::optional<DigestAlg> alg;
    if (nid == NID_sha256) alg = DigestAlg::sha256;
    else if (nid == NID_sha512) alg = DigestAlg::sha512;
    if (!alg || std::find(accepted.begin(), accepted.end(), *alg) == accepted.end()) {
        const char* name = OBJ_nid2sn(nid);
        malformed(std::string("digest algorithm ") + (name ? name : "unknown") + " is not accepted");
    }
    return *alg;
}

// A signature algorithm that names its own hash (e.g. ecdsa-with-SHA1,
// sha1WithRSAEncryption) must not name a weak one.
void check_signature_alg(int nid) {
    int md_nid = NID_undef, pk_nid = NID_undef;
    if (OBJ_find_sigid_algs(nid, &md_nid, &pk_nid) &&
        (md_nid == NID_sha1 || md_nid == NID_md5 || md_nid == NID_md5_sha1 || md_nid == NID_md4))
        malformed(std::string("signature algorithm ") + OBJ_nid2sn(nid) + " is not accepted");
}

// The signingTime attribute (RFC 5652 §11.3): at most one, with one value.
std::optional<std::int64_t> signing_time_of(CMS_SignerInfo* si) {
    const int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    if (idx < 0) return std::nullopt;
    if (CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, idx) >= 0)
        malformed("more than one signingTime attribute");
    X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, idx);
    ASN1_TYPE* v = X509_ATTRIBUTE_count(attr) == 1 ? X509_ATTRIBUTE_get0_type(attr, 0) : nullptr;
    if (!v || (v->type != V_ASN1_UTCTIME && v->type != V_ASN1_GENERALIZEDTIME))
        malformed("the signingTime attribute must be one UTCTime or GeneralizedTime");
    const ASN1_TIME* t = v->value.utctime;
    std::tm tm{};
    if (ASN1_TIME_check(t) != 1 || ASN1_TIME_to_tm(t, &tm) != 1) malformed("the signingTime attribute is not a time");
    return static_cast<std::int64_t>(timegm(&tm));
}

// The order n of the curves ECDSA content signers use, so that no EC_GROUP has to
// be built per request (that costs more than the rest of the signature's identity).
const char* curve_order_hex(const char* group) {
    if (!std::strcmp(group, "prime256v1"))
        return "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
    if (!std::strcmp(group, "secp384r1"))
        return "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973";
    if (!std::strcmp(group, "secp521r1"))
        return "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409";
    return nullptr;
}

using BnPtr = ossl::UniquePtr<BIGNUM>;

BnPtr curve_order(const char* group) {
    if (const char* hex = curve_order_hex(group)) {
        BIGNUM* n = nullptr;
        return BnPtr(BN_hex2bn(&n, hex) ? n : nullptr);
    }
    const ossl::UniquePtr<EC_GROUP> g(EC_GROUP_new_by_curve_name(OBJ_sn2nid(group)));
    return BnPtr(g ? BN_dup(EC_GROUP_get0_order(g.get())) : nullptr);
}

// The signature value as nobody without the key can vary it. ECDSA's (r, s) and
// (r, n - s) both verify: s is taken as the smaller of the two. (OpenSSL accepts
// only the DER encoding of the pair.) An RSA value is an integer: OpenSSL accepts
// an RSA-PSS value shorter than the modulus (leading zero bytes left out), so it
// is taken without them. EdDSA values admit no twin.
std::string canonical_signature_value(CMS_SignerInfo* si, EVP_PKEY* key) {
    const ASN1_OCTET_STRING* sig = CMS_SignerInfo_get0_signature(si);
    const unsigned char* p = ASN1_STRING_get0_data(sig);
    std::string raw(reinterpret_cast<const char*>(p), static_cast<std::size_t>(ASN1_STRING_length(sig)));
    if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS")) {
        const std::size_t first = raw.find_first_not_of('\0');
        return "rsa:" + (first == std::string::npos ? std::string() : raw.substr(first));
    }
    char group[64] = "";
    std::size_t len = 0;
    if (!EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) return raw;
    const ossl::UniquePtr<ECDSA_SIG> es(d2i_ECDSA_SIG(nullptr, &p, ASN1_STRING_length(sig)));
    const BnPtr order = curve_order(group);
    BnPtr other(BN_new());
    ERR_clear_error();
    if (!es || !order || !other || !BN_sub(other.get(), order.get(), ECDSA_SIG_get0_s(es.get()))) return raw;
    const BIGNUM* s = ECDSA_SIG_get0_s(es.get());
    const BIGNUM* low = BN_cmp(s, other.get()) <= 0 ? s : other.get();
    auto bytes = [](const BIGNUM* n) {
        std::string b(static_cast<std::size_t>(BN_num_bytes(n)), '\0');
        BN_bn2bin(n, reinterpret_cast<unsigned char*>(b.data()));
        return std::to_string(b.size()) + ":" + b;
    };
    return "ecdsa:" + bytes(ECDSA_SIG_get0_r(es.get())) + bytes(low);
}

// SHA-256 over the signer's public key, the signed attributes as signed (the
// order received, each re-encoded as DER, as the verification itself does) and
// the signature value: two signings of one content are two signatures (ECDSA
// and RSA-PSS are randomised; RSA PKCS#1 v1.5 signings differ by their signingTime).
std::string signature_id_of(CMS_SignerInfo* si, X509* signer) {
    Sha256 h;
    h.update(std::string_view("cmi cms signature\0", 18));
    const std::string value = canonical_signature_value(si, X509_get0_pubkey(signer));
    h.update(std::to_string(value.size()) + ":");
    h.update(value);
    // The key as the certificate carries it (i2d_PUBKEY would go through OpenSSL 3's
    // encoders: ~0.9 M instructions). The bits alone name the key: no curve or
    // algorithm shares another's encoding of a point or modulus in practice, and the
    // algorithm OID is added anyway.
    ASN1_OBJECT* alg = nullptr;
    const unsigned char* key = nullptr;
    int key_len = 0;
    if (X509_PUBKEY_get0_param(&alg, &key, &key_len, nullptr, X509_get_X509_PUBKEY(signer)) != 1 || !alg || !key)
        throw std::runtime_error("cannot read the signer's public key");
    h.update(OBJ_get0_data(alg), OBJ_length(alg));
    h.update(key, static_cast<std::size_t>(key_len));
    for (int i = 0; i < CMS_signed_get_attr_count(si); ++i) {
        const std::string der = ossl::to_der(i2d_X509_ATTRIBUTE, CMS_signed_get_attr(si, i));
        if (der.empty()) throw std::runtime_error("cannot encode the signature's identity");
        h.update(der);
    }
    const auto d = h.finish();
    return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace

struct CmsSignerCache::Entry {
    std::string certificates;  // the DER of the CMS's certificates element
    ossl::UniquePtr<STACK_OF(X509)> certs;
    X509* signer = nullptr;    // in certs; its chain verified
    std::string cn, dn;
    SignerVars vars;
};

CmsSignerCache::CmsSignerCache() = default;
CmsSignerCache::~CmsSignerCache() = default;

const CmsSignerCache::Entry* CmsSignerCache::find(std::string_view certificates) const {
    for (const auto& e : entries_)
        if (e->certificates == certificates) return e.get();
    return nullptr;
}

void CmsSignerCache::add(std::unique_ptr<Entry> e) {
    if (entries_.size() < kMaxEntries) entries_.push_back(std::move(e));
}

CmsExpectation verify_cms_signature(std::string_view der, const SignerPolicy& signers,
                                    const std::vector<DigestAlg>& accepted, std::time_t at, CmsSignerCache* cache) {
    // A known certificate set: parse the rest only, and attach the decoded set.
    std::optional<CmsWithoutCertificates> split;
    const CmsSignerCache::Entry* known = nullptr;
    if (cache && (split = without_certificates(der))) known = cache->find(split->certificates);
    const std::string_view parsed = known ? std::string_view(split->der) : der;

    const ossl::UniquePtr<BIO> in = ossl::memory_bio(parsed);
    if (!in) throw std::runtime_error("out of memory");
    const ossl::UniquePtr<CMS_ContentInfo> cms(d2i_CMS_bio(in.get(), nullptr));
    if (!cms) malformed("not a DER CMS structure");
    if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) malformed("not a CMS SignedData");
    if (CMS_is_detached(cms.get()) != 1) malformed("the signature must be detached (openssl cms -sign without -nodetach)");

    STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
    if (!infos || sk_CMS_SignerInfo_num(infos) != 1) malformed("exactly one signer is required");
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);

    X509_ALGOR* dig = nullptr;
    X509_ALGOR* sig = nullptr;
    CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &dig, &sig);
    CmsExpectation out{digest_alg_of(OBJ_obj2nid(dig->algorithm), accepted), {}, {}, {}, {}, {}, {}};
    check_signature_alg(OBJ_obj2nid(sig->algorithm));

    if (CMS_signed_get_attr_count(si) <= 0) malformed("signed attributes are required");
    auto* md = static_cast<ASN1_OCTET_STRING*>(
        CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
    if (!md) malformed("the messageDigest attribute is missing");
    out.message_digest.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(md)),
                              static_cast<size_t>(ASN1_STRING_length(md)));
    if (out.message_digest.size() != digest_alg_size(out.alg)) malformed("the messageDigest has the wrong length");

    // The signer certificate must be among the certificates the CMS carries.
    ossl::UniquePtr<STACK_OF(X509)> certs(known ? nullptr : CMS_get1_certs(cms.get()));
    STACK_OF(X509)* carried = known ? known->certs.get() : certs.get();
    if (CMS_set1_signers_certs(cms.get(), known ? carried : nullptr, 0) < 0 || !carried) {
        ERR_clear_error();
        throw ValidationError("signer-untrusted", "the CMS does not carry the signer certificate");
    }
    X509* signer = nullptr;
    CMS_SignerInfo_get0_algs(si, nullptr, &signer, nullptr, nullptr);
    if (!signer) throw ValidationError("signer-untrusted", "the CMS does not carry the signer certificate");

    const bool trusted_before = known && known->signer == signer;
    if (!trusted_before) verify_signer_chain(signer, carried, signers, at);

    if (CMS_SignerInfo_verify(si) != 1) {
        ERR_clear_error();
        throw ValidationError("signature-invalid", "the CMS signature does not verify with the signer certificate");
    }
    out.signing_time = signing_time_of(si);
    out.signature_id = signature_id_of(si, signer);
    if (trusted_before) {
        out.signer_cn = known->cn;
        out.signer_dn = known->dn;
        out.signer_vars = known->vars;
        return out;
    }
    out.signer_cn = subject_cn(signer);
    out.signer_dn = subject_dn(signer);
    out.signer_vars = signer_variables(signer);
    if (split && !known) {
        auto e = std::make_unique<CmsSignerCache::Entry>();
        e->certificates.assign(split->certificates);
        e->signer = signer;
        e->certs = std::move(certs);
        e->cn = out.signer_cn;
        e->dn = out.signer_dn;
        e->vars = out.signer_vars;
        cache->add(std::move(e));
    }
    return out;
}

void check_signing_time(const CmsExpectation& e, std::time_t now, long skew, long max_age) {
    if (!e.signing_time) return;
    if (*e.signing_time > now + skew)
        throw ValidationError("signature-invalid", "the CMS signingTime is in the future");
    if (*e.signing_time + max_age + skew < now)
        throw ValidationError("signature-invalid", "the CMS signingTime is more than " + std::to_string(max_age) +
                                                       " s ago; sign the content again just before uploading it");
}

void check_cms_digest(const CmsExpectation& e, std::string_view streamed_digest) {
    if (!digest_equal(e.message_digest, streamed_digest))
        throw ValidationError("digest-mismatch", "the body does not match the signed messageDigest");
}

}  // namespace cmi

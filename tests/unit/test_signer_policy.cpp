// Issue 17 items 5 and 6 at the library level: who may sign content (purpose,
// key strength, CRL), what a CMS signature is (its identity, its signingTime),
// and which RFC 9421 components name a request's target.
#include "libcmi/cms_signature.hpp"
#include "libcmi/http_signature.hpp"
#include "libcmi/http_signature_crypto.hpp"
#include "libcmi/signer_policy.hpp"

#include "test_pki.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <functional>
#include <unistd.h>

using namespace cmi;
using testpki::code_of;

namespace {


// A PEM CRL of `ca` revoking `revoked`, valid until now + next_days; returns its path.
std::string write_crl(const std::string& stem, const testpki::Cred& ca, std::vector<const X509*> revoked,
                      int next_days = 7) {
    const ossl::UniquePtr<X509_CRL> crl(X509_CRL_new());
    X509_CRL_set_version(crl.get(), 1);
    X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get()));
    const ossl::UniquePtr<ASN1_TIME> last(X509_gmtime_adj(nullptr, -3600));
    const ossl::UniquePtr<ASN1_TIME> next(X509_gmtime_adj(nullptr, long(next_days) * 86400));
    X509_CRL_set1_lastUpdate(crl.get(), last.get());
    X509_CRL_set1_nextUpdate(crl.get(), next.get());
    for (const X509* x : revoked) {
        X509_REVOKED* r = X509_REVOKED_new();
        X509_REVOKED_set_serialNumber(r, const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(x)));
        X509_REVOKED_set_revocationDate(r, last.get());
        X509_CRL_add0_revoked(crl.get(), r);
    }
    X509_CRL_sort(crl.get());
    X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256());
    const std::string path = "/tmp/cmi-unit-" + stem + "-" + std::to_string(getpid()) + ".crl.pem";
    const ossl::UniquePtr<BIO> bio(BIO_new_file(path.c_str(), "w"));
    PEM_write_bio_X509_CRL(bio.get(), crl.get());
    return path;
}

std::string pem_of(const X509* cert) {
    const ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert);
    return ossl::bio_text(bio.get());
}

}  // namespace

class SignerPolicyTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SignerPolicyTest);
    CPPUNIT_TEST(content_signing_purposes);
    CPPUNIT_TEST(other_purposes_only_when_listed);
    CPPUNIT_TEST(key_purpose_names_and_oids);
    CPPUNIT_TEST(weak_keys_are_refused);
    CPPUNIT_TEST(revocation_through_the_chain);
    CPPUNIT_TEST(revocation_list_file_errors);
    CPPUNIT_TEST(pinned_certificates);
    CPPUNIT_TEST(signature_id_is_the_signature_not_its_encoding);
    CPPUNIT_TEST(signing_time_window);
    CPPUNIT_TEST(target_components);
    CPPUNIT_TEST_SUITE_END();

    testpki::Cred ca_;
    std::string anchors_path_;
    std::unique_ptr<TrustAnchors> anchors_;
    const std::vector<DigestAlg> all_{DigestAlg::sha256, DigestAlg::sha512};
    const std::string body_ = "content";

    std::string verdict(const testpki::Cred& signer, const KeyPurposes* extra = nullptr,
                        const RevocationList* crls = nullptr) {
        return code_of([&] {
            verify_cms_signature(testpki::cms_sign(body_, signer), SignerPolicy(*anchors_, extra, crls), all_);
        });
    }

public:
    void setUp() override {
        ca_ = testpki::make_ca("unit CA", -60);
        anchors_path_ = testpki::write_pem("policy-anchors", ca_.cert.get());
        anchors_ = std::make_unique<TrustAnchors>(anchors_path_);
    }
    void tearDown() override { std::remove(anchors_path_.c_str()); }

    void content_signing_purposes() {
        for (const char* eku : {"emailProtection", "codeSigning", "1.3.6.1.5.5.7.3.36", "anyExtendedKeyUsage",
                                "serverAuth,emailProtection"})
            CPPUNIT_ASSERT_EQUAL_MESSAGE(eku, std::string("ok"), verdict(testpki::issue(ca_, "p", -1, 30, true, eku)));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), verdict(testpki::issue(ca_, "p", -1, 30, true, nullptr)));
        for (const char* eku : {"serverAuth", "clientAuth", "timeStamping", "serverAuth,clientAuth"})
            CPPUNIT_ASSERT_EQUAL_MESSAGE(eku, std::string("signer-untrusted"),
                                         verdict(testpki::issue(ca_, "p", -1, 30, true, eku)));
    }

    void other_purposes_only_when_listed() {
        KeyPurposes extra;
        extra.add("clientAuth");
        extra.add("1.3.6.1.4.1.99999.1");
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), verdict(testpki::issue(ca_, "p", -1, 30, true, "clientAuth"), &extra));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"),
                             verdict(testpki::issue(ca_, "p", -1, 30, true, "1.3.6.1.4.1.99999.1"), &extra));
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"),
                             verdict(testpki::issue(ca_, "p", -1, 30, true, "serverAuth"), &extra));
        // The message names what the certificate has and what would do.
        try {
            verify_cms_signature(testpki::cms_sign(body_, testpki::issue(ca_, "p", -1, 30, true, "serverAuth")),
                                 *anchors_, all_);
            CPPUNIT_FAIL("a serverAuth certificate signed content");
        } catch (const ValidationError& e) {
            const std::string w = e.what();
            CPPUNIT_ASSERT_MESSAGE(w, w.find("serverAuth") != std::string::npos &&
                                          w.find("CMIContentSignerEKU") != std::string::npos);
        }
    }

    void key_purpose_names_and_oids() {
        KeyPurposes p;
        p.add("clientAuth");
        p.add("1.2.3.4.5");
        CPPUNIT_ASSERT(p.contains("1.3.6.1.5.5.7.3.2"));
        CPPUNIT_ASSERT(p.contains("1.2.3.4.5"));
        CPPUNIT_ASSERT(!p.contains("1.3.6.1.5.5.7.3.1"));
        for (const char* bad : {"", "not-an-oid", "1..2", "client Auth", "serverAuth", "1.3.6.1.5.5.7.3.1"})
            CPPUNIT_ASSERT_THROW_MESSAGE(bad, p.add(bad), std::invalid_argument);
    }

    void weak_keys_are_refused() {
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"),
                             verdict(testpki::issue(ca_, "p", -1, 30, true, "emailProtection", testpki::rsa_key(1024))));
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"),
                             verdict(testpki::issue(ca_, "p", -1, 30, true, "emailProtection", testpki::ec_key("P-224"))));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"),
                             verdict(testpki::issue(ca_, "p", -1, 30, true, "emailProtection", testpki::rsa_key(2048))));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"),
                             verdict(testpki::issue(ca_, "p", -1, 30, true, "emailProtection", testpki::ec_key("P-384"))));
        auto rsa = testpki::rsa_key(1024);
        try {
            check_key_strength(rsa.get(), "the key");
            CPPUNIT_FAIL("RSA-1024 passed");
        } catch (const ValidationError& e) {
            CPPUNIT_ASSERT(std::string(e.what()).find("2048") != std::string::npos);
        }
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of([] { check_key_strength(testpki::ed25519_key().get(), "k"); }));
    }

    void revocation_through_the_chain() {
        const auto good = testpki::issue(ca_, "good");
        const auto bad = testpki::issue(ca_, "bad");
        const std::string path = write_crl("chain", ca_, {bad.cert.get()});
        const RevocationList crls(path);
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), verdict(good, nullptr, &crls));
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), verdict(bad, nullptr, &crls));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), verdict(bad));  // without the CRL
        // Through an intermediate: its CA has no CRL in the file (tolerated), the leaf's issuer needs one.
        const auto inter = testpki::issue_ca(ca_, "inter");
        const auto leaf = testpki::issue(inter, "leaf");
        const std::string leaf_der = testpki::cms_sign_with(body_, leaf, {inter.cert.get()});
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), code_of([&] {
                                 verify_cms_signature(leaf_der, SignerPolicy(*anchors_, nullptr, &crls), all_);
                             }));
        const std::string both = path + ".both";
        {
            const std::string inter_crl = write_crl("inter", inter, {});
            std::string text;
            for (const auto& p : {path, inter_crl}) text += httpsig::read_key_file(p);  // any small file
            const ossl::UniquePtr<BIO> out(BIO_new_file(both.c_str(), "w"));
            BIO_write(out.get(), text.data(), static_cast<int>(text.size()));
            std::remove(inter_crl.c_str());
        }
        const RevocationList two(both);
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of([&] {
                                 verify_cms_signature(leaf_der, SignerPolicy(*anchors_, nullptr, &two), all_);
                             }));
        std::remove(path.c_str());
        std::remove(both.c_str());
        // An expired CRL refuses.
        const std::string old = write_crl("old", ca_, {}, -1);
        const RevocationList expired(old);
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), verdict(good, nullptr, &expired));
        std::remove(old.c_str());
    }

    void revocation_list_file_errors() {
        CPPUNIT_ASSERT_THROW(RevocationList{"/nonexistent.crl"}, std::runtime_error);
        CPPUNIT_ASSERT_THROW(RevocationList{anchors_path_}, std::runtime_error);  // certificates, no CRL
    }

    void pinned_certificates() {
        const auto server = testpki::issue(ca_, "srv", -1, 30, true, "serverAuth");
        const auto mail = testpki::issue(ca_, "mail", -1, 30, true, "emailProtection");
        const auto now = std::time(nullptr);
        auto check = [&](const testpki::Cred& c, const KeyPurposes* p = nullptr, const RevocationList* crls = nullptr) {
            return code_of([&] {
                httpsig::check_signer_key(pem_of(c.cert.get()), X509_get0_pubkey(c.cert.get()), now, "k", p, crls);
            });
        };
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), check(server));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), check(mail));
        const std::string path = write_crl("pinned", ca_, {mail.cert.get()});
        const RevocationList crls(path);
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), check(mail, nullptr, &crls));
        const auto other_ca = testpki::make_ca("other CA");
        const auto other = testpki::issue(other_ca, "other", -1, 30, true, "emailProtection");
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), check(other, nullptr, &crls));  // no CRL of its issuer: not checked
        std::remove(path.c_str());
        // A bare public key: its strength only.
        auto weak = testpki::rsa_key(1024);
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"),
                             code_of([&] { httpsig::check_signer_key("", weak.get(), now, "k"); }));
    }

    // A captured CMS changed by `change` and encoded again: what an attacker can do.
    static std::string reencoded(const std::string& der, const std::function<void(CMS_ContentInfo*)>& change) {
        const ossl::UniquePtr<CMS_ContentInfo> cms(d2i_CMS_bio(ossl::memory_bio(der).get(), nullptr));
        change(cms.get());
        return ossl::to_der(i2d_CMS_ContentInfo, cms.get());
    }

    // One more certificate.
    static std::string with_extra_certificate(const std::string& der, X509* extra) {
        return reencoded(der, [extra](CMS_ContentInfo* cms) { CMS_add1_cert(cms, extra); });
    }

    // The same CMS with the ECDSA signature's s replaced by n - s: it verifies just the same.
    static std::string with_other_ecdsa_s(const std::string& der) {
        return reencoded(der, [](CMS_ContentInfo* cms) {
            CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
            ASN1_OCTET_STRING* sig = CMS_SignerInfo_get0_signature(si);
            const unsigned char* p = ASN1_STRING_get0_data(sig);
            const ossl::UniquePtr<ECDSA_SIG> es(d2i_ECDSA_SIG(nullptr, &p, ASN1_STRING_length(sig)));
            const ossl::UniquePtr<EC_GROUP> g(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
            BIGNUM* r = BN_dup(ECDSA_SIG_get0_r(es.get()));
            BIGNUM* s2 = BN_new();
            BN_sub(s2, EC_GROUP_get0_order(g.get()), ECDSA_SIG_get0_s(es.get()));
            ECDSA_SIG_set0(es.get(), r, s2);  // takes r and s2
            const std::string enc = ossl::to_der(i2d_ECDSA_SIG, es.get());
            ASN1_STRING_set(sig, enc.data(), static_cast<int>(enc.size()));
        });
    }

    void signature_id_is_the_signature_not_its_encoding() {
        const auto signer = testpki::issue(ca_, "p");
        const std::string a = testpki::cms_sign(body_, signer);
        const auto ea = verify_cms_signature(a, *anchors_, all_);
        CPPUNIT_ASSERT_EQUAL(std::size_t(32), ea.signature_id.size());
        CPPUNIT_ASSERT(ea.signing_time);  // OpenSSL adds one
        CPPUNIT_ASSERT(*ea.signing_time <= std::time(nullptr) && *ea.signing_time > std::time(nullptr) - 60);
        const std::string b = with_extra_certificate(a, ca_.cert.get());
        CPPUNIT_ASSERT(a != b);
        CPPUNIT_ASSERT(verify_cms_signature(b, *anchors_, all_).signature_id == ea.signature_id);
        const std::string twin = with_other_ecdsa_s(a);
        CPPUNIT_ASSERT(twin != a);
        CPPUNIT_ASSERT(verify_cms_signature(twin, *anchors_, all_).signature_id == ea.signature_id);
        // Signing the same content again (ECDSA: a new random k) is another signature,
        // even within the same second (the same signed attributes).
        CPPUNIT_ASSERT(verify_cms_signature(testpki::cms_sign(body_, signer), *anchors_, all_).signature_id !=
                       ea.signature_id);
        // Through the batch cache (decoded certificates reused), the same.
        CmsSignerCache cache;
        CPPUNIT_ASSERT(verify_cms_signature(a, *anchors_, all_, 0, &cache).signature_id == ea.signature_id);
        CPPUNIT_ASSERT(verify_cms_signature(a, *anchors_, all_, 0, &cache).signature_id == ea.signature_id);
        // Another signer of the same content is another signature.
        const auto other = verify_cms_signature(testpki::cms_sign(body_, testpki::issue(ca_, "q")), *anchors_, all_);
        CPPUNIT_ASSERT(other.signature_id != ea.signature_id);
    }

    void signing_time_window() {
        CmsExpectation e{};
        auto code = [&](std::time_t now) { return code_of([&] { check_signing_time(e, now, 60, 300); }); };
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code(1000));  // none: nothing to check
        e.signing_time = 1000;
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code(1000));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code(1360));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), code(1361));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code(940));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), code(939));
    }

    void target_components() {
        httpsig::Params p;
        auto code = [&](std::vector<std::string> c, bool several) {
            p.components = std::move(c);
            return code_of([&] { httpsig::require_target(p, several); });
        };
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code({"@method", "@target-uri", "content-digest"}, true));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code({"@method", "@path", "content-digest"}, false));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code({"@request-target"}, false));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code({"@method", "@path"}, true));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code({"@authority", "@path"}, true));
        for (bool several : {false, true}) {
            CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code({"@method", "content-digest"}, several));
            CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code({"@authority", "@query"}, several));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SignerPolicyTest);

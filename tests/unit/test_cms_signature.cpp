#include "libcmi/cms_signature.hpp"
#include "libcmi/cms_der.hpp"

#include "test_pki.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <cstdio>
#include <optional>
#include <openssl/cms.h>

using namespace cmi;

class CmsSignatureTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CmsSignatureTest);
    CPPUNIT_TEST(valid_signature_and_digest);
    CPPUNIT_TEST(sha512_signature);
    CPPUNIT_TEST(flipped_body_byte_is_digest_mismatch);
    CPPUNIT_TEST(untrusted_ca);
    CPPUNIT_TEST(expired_signer);
    CPPUNIT_TEST(signer_without_signing_key_usage);
    CPPUNIT_TEST(sha1_and_unconfigured_digests_refused);
    CPPUNIT_TEST(tampered_signature_is_invalid);
    CPPUNIT_TEST(malformed_blobs);
    CPPUNIT_TEST(missing_signer_certificate);
    CPPUNIT_TEST(carried_intermediates_are_used_but_not_trusted);
    CPPUNIT_TEST(trust_anchor_file_errors);
    CPPUNIT_TEST(certificates_cut_out_of_the_der);
    CPPUNIT_TEST(signer_cache_reuses_identical_certificates_only);
    CPPUNIT_TEST(signer_cache_still_verifies_every_signature);
    CPPUNIT_TEST_SUITE_END();

    testpki::Cred ca_, rogue_, signer_;
    std::string anchors_path_;
    std::unique_ptr<TrustAnchors> anchors_;
    const std::vector<DigestAlg> all_{DigestAlg::sha256, DigestAlg::sha512};
    const std::string body_ = std::string("content item \0 with binary bytes", 32);

    std::string code_of(const std::string& der, std::time_t at = 0, std::vector<DigestAlg> accepted = {},
                        CmsSignerCache* cache = nullptr) {
        try {
            verify_cms_signature(der, *anchors_, accepted.empty() ? all_ : accepted, at, cache);
        } catch (const ValidationError& e) {
            return e.code;
        }
        return "ok";
    }

public:
    void setUp() override {
        ca_ = testpki::make_ca("unit CA", -60);
        rogue_ = testpki::make_ca("rogue CA");
        signer_ = testpki::issue(ca_, "provider-a");
        anchors_path_ = testpki::write_pem("anchors", ca_.cert.get());
        anchors_ = std::make_unique<TrustAnchors>(anchors_path_);
    }
    void tearDown() override { std::remove(anchors_path_.c_str()); }

    void valid_signature_and_digest() {
        const auto e = verify_cms_signature(testpki::cms_sign(body_, signer_), *anchors_, all_);
        CPPUNIT_ASSERT(e.alg == DigestAlg::sha256);
        CPPUNIT_ASSERT_EQUAL(std::string("provider-a"), e.signer_cn);
        CPPUNIT_ASSERT_EQUAL(std::string("CN=provider-a,O=mod_cmi unit"), e.signer_dn);
        StreamingDigest d(e.alg);
        d.update(body_.data(), 10);
        d.update(body_.data() + 10, body_.size() - 10);
        check_cms_digest(e, d.finish());
    }

    void sha512_signature() {
        const auto e = verify_cms_signature(testpki::cms_sign(body_, signer_, EVP_sha512()), *anchors_, all_);
        CPPUNIT_ASSERT(e.alg == DigestAlg::sha512);
        check_cms_digest(e, digest_of(DigestAlg::sha512, body_));
    }

    void flipped_body_byte_is_digest_mismatch() {
        const auto e = verify_cms_signature(testpki::cms_sign(body_, signer_), *anchors_, all_);
        std::string flipped = body_;
        flipped[5] ^= 1;
        try {
            check_cms_digest(e, digest_of(e.alg, flipped));
            CPPUNIT_FAIL("accepted a flipped byte");
        } catch (const ValidationError& err) {
            CPPUNIT_ASSERT_EQUAL(std::string("digest-mismatch"), std::string(err.code));
        }
    }

    void untrusted_ca() {
        const auto rogue_signer = testpki::issue(rogue_, "provider-a");
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), code_of(testpki::cms_sign(body_, rogue_signer)));
    }

    void expired_signer() {
        const auto expired = testpki::issue(ca_, "provider-a", -30, -1);
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), code_of(testpki::cms_sign(body_, expired)));
        // The same signature at a time when the certificate was valid passes.
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of(testpki::cms_sign(body_, expired), std::time(nullptr) - 5 * 86400));
    }

    void signer_without_signing_key_usage() {
        // Key usage keyAgreement only: OpenSSL itself may refuse to sign, so
        // sign with the key of a normal certificate and swap nothing: just
        // check the chain function rejects such a certificate when present.
        const auto ka = testpki::issue(ca_, "provider-a", -1, 30, false);
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), code_of(testpki::cms_sign(body_, ka)));
    }

    void sha1_and_unconfigured_digests_refused() {
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of(testpki::cms_sign(body_, signer_, EVP_sha1())));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of(testpki::cms_sign(body_, signer_, EVP_sha384())));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"),
                             code_of(testpki::cms_sign(body_, signer_, EVP_sha512()), 0, {DigestAlg::sha256}));
    }

    // The signature value is the last OCTET STRING of the structure: its final byte flipped.
    std::string tampered() const {
        std::string der = testpki::cms_sign(body_, signer_);
        der[der.size() - 1] ^= 0x01;
        return der;
    }

    // A signature by another key than the certificate's; nullopt when OpenSSL
    // refuses to sign with a key that does not match (nothing to verify then).
    std::optional<std::string> forged() const {
        try {
            return testpki::cms_sign(body_, testpki::Cred{testpki::ec_key(), signer_.cert});
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }

    void tampered_signature_is_invalid() {
        const std::string code = code_of(tampered());
        CPPUNIT_ASSERT_MESSAGE(code, code == "signature-invalid" || code == "signature-malformed");
        if (const auto der = forged()) CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), code_of(*der));
    }

    void malformed_blobs() {
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of(""));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of("not DER at all"));
        const std::string der = testpki::cms_sign(body_, signer_);
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of(der.substr(0, der.size() / 2)));
        // Attached content is not what the header carries.
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of(testpki::cms_sign(body_, signer_, EVP_sha256(), false)));
    }

    void missing_signer_certificate() {
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"),
                             code_of(testpki::cms_sign(body_, signer_, EVP_sha256(), true, false)));
    }

    void carried_intermediates_are_used_but_not_trusted() {
        const auto inter = testpki::issue_ca(ca_, "unit intermediate");
        const auto leaf = testpki::issue(inter, "provider-c");
        // The intermediate travels in the CMS: the chain reaches the anchor.
        const auto e = verify_cms_signature(testpki::cms_sign_with(body_, leaf, {inter.cert.get()}), *anchors_, all_);
        CPPUNIT_ASSERT_EQUAL(std::string("provider-c"), e.signer_cn);
        // Without it there is no path.
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), code_of(testpki::cms_sign_with(body_, leaf, {})));
        // A root the client sends along is not a trust anchor.
        const auto rogue_leaf = testpki::issue(rogue_, "provider-a");
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"),
                             code_of(testpki::cms_sign_with(body_, rogue_leaf, {rogue_.cert.get()})));
    }

    void trust_anchor_file_errors() {
        CPPUNIT_ASSERT_THROW(TrustAnchors{"/nonexistent/anchors.pem"}, std::runtime_error);
        const std::string empty = anchors_path_ + ".empty";
        std::FILE* f = std::fopen(empty.c_str(), "w");
        std::fputs("no certificates here\n", f);
        std::fclose(f);
        CPPUNIT_ASSERT_THROW(TrustAnchors{empty}, std::runtime_error);
        std::remove(empty.c_str());
    }

    void certificates_cut_out_of_the_der() {
        const std::string der = testpki::cms_sign(body_, signer_);
        const auto split = without_certificates(der);
        CPPUNIT_ASSERT(split);
        CPPUNIT_ASSERT_EQUAL('\xa0', split->certificates.front());  // [0] IMPLICIT, constructed
        CPPUNIT_ASSERT(split->der.size() < der.size());
        // What is left parses as the same SignedData, without certificates.
        const auto* p = reinterpret_cast<const unsigned char*>(split->der.data());
        const ossl::UniquePtr<CMS_ContentInfo> cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(split->der.size())));
        CPPUNIT_ASSERT(cms);
        CPPUNIT_ASSERT_EQUAL(static_cast<const unsigned char*>(
                                 reinterpret_cast<const unsigned char*>(split->der.data()) + split->der.size()), p);
        const ossl::UniquePtr<STACK_OF(X509)> certs(CMS_get1_certs(cms.get()));
        CPPUNIT_ASSERT(!certs || sk_X509_num(certs.get()) == 0);
        CPPUNIT_ASSERT_EQUAL(1, sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms.get())));
        // Nothing to cut, or not DER: the caller parses the original.
        CPPUNIT_ASSERT(!without_certificates(testpki::cms_sign(body_, signer_, EVP_sha256(), true, false)));
        CPPUNIT_ASSERT(!without_certificates(der.substr(0, der.size() - 1)));
        CPPUNIT_ASSERT(!without_certificates(der + std::string(1, '\0')));
        CPPUNIT_ASSERT(!without_certificates(""));
        std::string indefinite = der;
        indefinite[1] = '\x80';  // BER indefinite length
        CPPUNIT_ASSERT(!without_certificates(indefinite));
    }

    void signer_cache_reuses_identical_certificates_only() {
        CmsSignerCache cache;
        const std::string first = testpki::cms_sign(body_, signer_);
        const auto a = verify_cms_signature(first, *anchors_, all_, 0, &cache);
        CPPUNIT_ASSERT(cache.find(without_certificates(first)->certificates));
        // Another signature by the same certificate takes the cached path and
        // yields what the full path yields.
        const std::string other_body = "another item";
        const std::string second = testpki::cms_sign(other_body, signer_);
        const auto b = verify_cms_signature(second, *anchors_, all_, 0, &cache);
        const auto full = verify_cms_signature(second, *anchors_, all_);
        CPPUNIT_ASSERT(b.message_digest == full.message_digest);
        CPPUNIT_ASSERT(b.message_digest == digest_of(DigestAlg::sha256, other_body));
        CPPUNIT_ASSERT_EQUAL(full.signer_cn, b.signer_cn);
        CPPUNIT_ASSERT_EQUAL(full.signer_dn, b.signer_dn);
        CPPUNIT_ASSERT(full.signer_vars == b.signer_vars);
        CPPUNIT_ASSERT_EQUAL(a.signer_cn, b.signer_cn);
        // A certificate from another CA is not trusted because an earlier one was.
        const auto rogue_signer = testpki::issue(rogue_, "provider-a");
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"),
                             code_of(testpki::cms_sign(body_, rogue_signer), 0, {}, &cache));
        // Intermediates carried along are cached with the leaf.
        const auto inter = testpki::issue_ca(ca_, "unit intermediate");
        const auto leaf = testpki::issue(inter, "provider-c");
        for (int i = 0; i < 2; ++i)
            CPPUNIT_ASSERT_EQUAL(std::string("provider-c"),
                                 verify_cms_signature(testpki::cms_sign_with(body_ + char('0' + i), leaf, {inter.cert.get()}),
                                                      *anchors_, all_, 0, &cache).signer_cn);
        // The cache holds the decision for the time it was made at: an
        // expired certificate is refused at the batch's time either way.
        const auto expired = testpki::issue(ca_, "provider-x", -30, -1);
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), code_of(testpki::cms_sign(body_, expired), 0, {}, &cache));
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), code_of(testpki::cms_sign(body_, expired), 0, {}, &cache));
    }

    void signer_cache_still_verifies_every_signature() {
        CmsSignerCache cache;
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of(testpki::cms_sign(body_, signer_), 0, {}, &cache));
        const std::string code = code_of(tampered(), 0, {}, &cache);
        CPPUNIT_ASSERT_MESSAGE(code, code == "signature-invalid" || code == "signature-malformed");
        const auto der = forged();
        if (!der) return;
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), code_of(*der, 0, {}, &cache));
        CPPUNIT_ASSERT(cache.find(without_certificates(*der)->certificates));  // the cached path was taken
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CmsSignatureTest);

#include "libcmi/base64.hpp"
#include "libcmi/content_digest.hpp"
#include "libcmi/http_signature.hpp"
#include "libcmi/http_signature_crypto.hpp"

#include "test_pki.hpp"

#include <cppunit/extensions/HelperMacros.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <map>

using namespace cmi;
using namespace cmi::httpsig;
using testpki::code_of;

namespace {

// RFC 9421 Appendix B.1.3 and B.1.4 public keys.
const char* kEccP256Pub =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf\n"
    "w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==\n"
    "-----END PUBLIC KEY-----\n";
const char* kEd25519Pub =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n"
    "-----END PUBLIC KEY-----\n";

// RFC 9421 Appendix B.1.2.
const char* kRsaPssPub =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2\n"
    "+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+\n"
    "oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq\n"
    "gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W\n"
    "Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4\n"
    "aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI\n"
    "2wIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

// The test request of RFC 9421 Appendix B.2.
Request rfc_request(std::map<std::string, std::string> fields = {}) {
    if (fields.empty())
        fields = {{"date", "Tue, 20 Apr 2021 02:07:55 GMT"},
                  {"content-type", "application/json"},
                  {"content-digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"},
                  {"content-length", "18"}};
    Request r;
    r.method = "POST";
    r.scheme = "https";
    r.authority = "example.com";
    r.path = "/foo";
    r.query = "param=Value&Pet=dog";
    r.has_query = true;
    r.field = [fields](const std::string& name) -> std::optional<std::string> {
        auto it = fields.find(name);
        if (it == fields.end()) return std::nullopt;
        return it->second;
    };
    return r;
}

// Signs base with key the way a client would (ECDSA converted to r||s).
std::string sign_base(Alg alg, EVP_PKEY* key, const std::string& base) {
    const EVP_MD* md = nullptr;
    if (alg == Alg::ecdsa_p256_sha256 || alg == Alg::rsa_v1_5_sha256) md = EVP_sha256();
    if (alg == Alg::ecdsa_p384_sha384) md = EVP_sha384();
    if (alg == Alg::rsa_pss_sha512) md = EVP_sha512();
    const ossl::UniquePtr<EVP_MD_CTX> owned_ctx(EVP_MD_CTX_new());
    EVP_MD_CTX* ctx = owned_ctx.get();
    EVP_PKEY_CTX* pctx = nullptr;
    EVP_DigestSignInit(ctx, &pctx, md, nullptr, key);
    if (alg == Alg::rsa_pss_sha512) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 64);
    }
    size_t n = 0;
    EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(base.data()), base.size());
    std::string sig(n, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                   reinterpret_cast<const unsigned char*>(base.data()), base.size());
    sig.resize(n);
    if (alg == Alg::ecdsa_p256_sha256 || alg == Alg::ecdsa_p384_sha384) {
        const size_t half = alg == Alg::ecdsa_p256_sha256 ? 32 : 48;
        const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
        const ossl::UniquePtr<ECDSA_SIG> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
        std::string raw(2 * half, '\0');
        BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(half));
        BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), reinterpret_cast<unsigned char*>(raw.data() + half), static_cast<int>(half));
        return raw;
    }
    return sig;
}


}  // namespace

class HttpSignatureTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(HttpSignatureTest);
    CPPUNIT_TEST(rfc9421_b26_ed25519_verifies);
    CPPUNIT_TEST(rfc9421_b26_one_changed_byte_fails);
    CPPUNIT_TEST(rfc9421_b24_ecdsa_p256_verifies);
    CPPUNIT_TEST(rfc9421_b21_rsa_pss_verifies);
    CPPUNIT_TEST(rfc9421_b22_query_param_vector);
    CPPUNIT_TEST(rfc9421_b23_full_coverage_verifies);
    CPPUNIT_TEST(derived_components);
    CPPUNIT_TEST(every_algorithm_round_trips);
    CPPUNIT_TEST(algorithm_must_fit_key);
    CPPUNIT_TEST(parse_errors);
    CPPUNIT_TEST(twenty_thousand_components_and_labels);
    CPPUNIT_TEST(required_components);
    CPPUNIT_TEST(times_with_skew);
    CPPUNIT_TEST(keyids);
    CPPUNIT_TEST(keys_from_certificates);
    CPPUNIT_TEST_SUITE_END();

    const std::string b26_input =
        "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");"
        "created=1618884473;keyid=\"test-key-ed25519\"";
    const std::string b26_sig =
        "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";

public:
    void rfc9421_b26_ed25519_verifies() {
        const Signature s = parse_signature_fields(b26_input, b26_sig);
        CPPUNIT_ASSERT_EQUAL(std::string("sig-b26"), s.params.label);
        CPPUNIT_ASSERT_EQUAL(std::string("test-key-ed25519"), s.params.keyid);
        CPPUNIT_ASSERT_EQUAL(int64_t(1618884473), *s.params.created);
        const std::string base = signature_base(s.params, rfc_request());
        CPPUNIT_ASSERT_EQUAL(std::string("\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
                                         "\"@method\": POST\n"
                                         "\"@path\": /foo\n"
                                         "\"@authority\": example.com\n"
                                         "\"content-type\": application/json\n"
                                         "\"content-length\": 18\n"
                                         "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" "
                                         "\"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""),
                             base);
        ossl::Pkey key = public_key_from_pem(kEd25519Pub);
        CPPUNIT_ASSERT(key);
        const Alg alg = resolve_alg(s.params.alg, key.get());
        CPPUNIT_ASSERT(alg == Alg::ed25519);
        CPPUNIT_ASSERT(verify_base(alg, key.get(), base, s.value));
    }

    void rfc9421_b26_one_changed_byte_fails() {
        const Signature s = parse_signature_fields(b26_input, b26_sig);
        ossl::Pkey key = public_key_from_pem(kEd25519Pub);
        auto fields = std::map<std::string, std::string>{
            {"date", "Tue, 20 Apr 2021 02:07:56 GMT"}, {"content-type", "application/json"}, {"content-length", "18"}};
        CPPUNIT_ASSERT(!verify_base(Alg::ed25519, key.get(), signature_base(s.params, rfc_request(fields)), s.value));
        std::string sig = s.value;
        sig[10] ^= 1;
        CPPUNIT_ASSERT(!verify_base(Alg::ed25519, key.get(), signature_base(s.params, rfc_request()), sig));
    }

    void rfc9421_b24_ecdsa_p256_verifies() {
        // B.2.4 signs a response (@status is not a request component): check the algorithm on its base.
        const std::string digest = content_digest_member(DigestAlg::sha512, digest_of(DigestAlg::sha512, "{\"message\": \"good dog\"}"));
        const std::string base = "\"@status\": 200\n\"content-type\": application/json\n\"content-digest\": " + digest +
                                 "\n\"content-length\": 23\n\"@signature-params\": (\"@status\" \"content-type\" "
                                 "\"content-digest\" \"content-length\");created=1618884473;keyid=\"test-key-ecc-p256\"";
        const std::string sig = *base64_decode("wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==");
        ossl::Pkey key = public_key_from_pem(kEccP256Pub);
        CPPUNIT_ASSERT(resolve_alg(std::nullopt, key.get()) == Alg::ecdsa_p256_sha256);
        CPPUNIT_ASSERT(verify_base(Alg::ecdsa_p256_sha256, key.get(), base, sig));
        std::string changed = base;
        changed[3] = 'S';
        CPPUNIT_ASSERT(!verify_base(Alg::ecdsa_p256_sha256, key.get(), changed, sig));
        std::string bad = sig;
        bad[40] ^= 0x80;
        CPPUNIT_ASSERT(!verify_base(Alg::ecdsa_p256_sha256, key.get(), base, bad));
        CPPUNIT_ASSERT(!verify_base(Alg::ecdsa_p256_sha256, key.get(), base, sig.substr(1)));
    }

    // B.2.2 covers "@query-param";name="Pet". The verifier does not build
    // bases with component parameters (such a Signature-Input is refused as
    // malformed); the RFC's own base and signature check the algorithm and key.
    void rfc9421_b22_query_param_vector() {
        const std::string input =
            "sig-b22=(\"@authority\" \"content-digest\" \"@query-param\";name=\"Pet\");created=1618884473;"
            "keyid=\"test-key-rsa-pss\";tag=\"header-example\"";
        const std::string sig_field =
            "sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8U"
            "CMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkj"
            "qpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//"
            "0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:";
        const std::string base =
            "\"@authority\": example.com\n"
            "\"content-digest\": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\n"
            "\"@query-param\";name=\"Pet\": dog\n"
            "\"@signature-params\": (\"@authority\" \"content-digest\" \"@query-param\";name=\"Pet\")"
            ";created=1618884473;keyid=\"test-key-rsa-pss\";tag=\"header-example\"";
        const std::string sig = *base64_decode(sig_field.substr(9, sig_field.size() - 10));
        ossl::Pkey key = public_key_from_pem(kRsaPssPub);
        CPPUNIT_ASSERT(verify_base(Alg::rsa_pss_sha512, key.get(), base, sig));
        std::string changed = base;
        changed[changed.find(": dog") + 2] = 'c';  // Pet=cog
        CPPUNIT_ASSERT(!verify_base(Alg::rsa_pss_sha512, key.get(), changed, sig));
        std::string bad = sig;
        bad[100] ^= 0x01;
        CPPUNIT_ASSERT(!verify_base(Alg::rsa_pss_sha512, key.get(), base, bad));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"),
                             code_of([&] { parse_signature_fields(input, sig_field); }));
    }

    void rfc9421_b21_rsa_pss_verifies() {
        const Signature s = parse_signature_fields(
            "sig-b21=();created=1618884473;keyid=\"test-key-rsa-pss\";nonce=\"b3k2pp5k7z-50gnwp.yemd\"",
            "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsck"
            "zXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+"
            "O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhd"
            "xO5Nyt8C8ssinQ98Xw9Q==:");
        CPPUNIT_ASSERT_EQUAL(std::string("b3k2pp5k7z-50gnwp.yemd"), *s.params.nonce);
        const std::string base = signature_base(s.params, rfc_request());
        CPPUNIT_ASSERT_EQUAL(std::string("\"@signature-params\": ();created=1618884473;keyid=\"test-key-rsa-pss\";"
                                         "nonce=\"b3k2pp5k7z-50gnwp.yemd\""),
                             base);
        ossl::Pkey key = public_key_from_pem(kRsaPssPub);
        CPPUNIT_ASSERT(key);
        CPPUNIT_ASSERT(verify_base(Alg::rsa_pss_sha512, key.get(), base, s.value));
        CPPUNIT_ASSERT(!verify_base(Alg::rsa_v1_5_sha256, key.get(), base, s.value));
        std::string changed = base;
        changed[changed.size() - 2] = 'e';
        CPPUNIT_ASSERT(!verify_base(Alg::rsa_pss_sha512, key.get(), changed, s.value));
        // An RSA key without `alg` is ambiguous: refused rather than guessed.
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of([&] { resolve_alg(s.params.alg, key.get()); }));
    }

    void rfc9421_b23_full_coverage_verifies() {
        const Signature s = parse_signature_fields(
            "sig-b23=(\"date\" \"@method\" \"@path\" \"@query\" \"@authority\" \"content-type\" \"content-digest\" "
            "\"content-length\");created=1618884473;keyid=\"test-key-rsa-pss\"",
            "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768"
            "ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o"
            "/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2F"
            "Uo5fTIztsDZKEgM4cUA==:");
        ossl::Pkey key = public_key_from_pem(kRsaPssPub);
        CPPUNIT_ASSERT(verify_base(Alg::rsa_pss_sha512, key.get(), signature_base(s.params, rfc_request()), s.value));
        // One byte of the covered Content-Digest changed: the signature fails.
        auto fields = std::map<std::string, std::string>{
            {"date", "Tue, 20 Apr 2021 02:07:55 GMT"},
            {"content-type", "application/json"},
            {"content-digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwex==:"},
            {"content-length", "18"}};
        CPPUNIT_ASSERT(!verify_base(Alg::rsa_pss_sha512, key.get(), signature_base(s.params, rfc_request(fields)), s.value));
    }

    void derived_components() {
        const Signature s = parse_signature_fields(
            "a=(\"@method\" \"@target-uri\" \"@authority\" \"@scheme\" \"@request-target\" \"@path\" \"@query\");keyid=\"k\"",
            "a=:AAAA:");
        Request r = rfc_request();
        r.authority = "Example.COM:8443";
        CPPUNIT_ASSERT_EQUAL(std::string("\"@method\": POST\n"
                                         "\"@target-uri\": https://example.com:8443/foo?param=Value&Pet=dog\n"
                                         "\"@authority\": example.com:8443\n"
                                         "\"@scheme\": https\n"
                                         "\"@request-target\": /foo?param=Value&Pet=dog\n"
                                         "\"@path\": /foo\n"
                                         "\"@query\": ?param=Value&Pet=dog\n"
                                         "\"@signature-params\": (\"@method\" \"@target-uri\" \"@authority\" \"@scheme\" "
                                         "\"@request-target\" \"@path\" \"@query\");keyid=\"k\""),
                             signature_base(s.params, r));
        r.has_query = false;
        const Signature q = parse_signature_fields("a=(\"@query\");keyid=\"k\"", "a=:AAAA:");
        CPPUNIT_ASSERT_EQUAL(std::string("\"@query\": ?\n\"@signature-params\": (\"@query\");keyid=\"k\""),
                             signature_base(q.params, r));
        const Signature st = parse_signature_fields("a=(\"@status\");keyid=\"k\"", "a=:AAAA:");
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of([&] { signature_base(st.params, r); }));
        const Signature missing = parse_signature_fields("a=(\"x-missing\");keyid=\"k\"", "a=:AAAA:");
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of([&] { signature_base(missing.params, r); }));
    }

    void every_algorithm_round_trips() {
        struct Case {
            Alg alg;
            std::shared_ptr<EVP_PKEY> key;
        } cases[] = {
            {Alg::ed25519, testpki::ed25519_key()},
            {Alg::ecdsa_p256_sha256, testpki::ec_key("P-256")},
            {Alg::ecdsa_p384_sha384, testpki::ec_key("P-384")},
            {Alg::rsa_pss_sha512, testpki::rsa_key(2048)},
            {Alg::rsa_v1_5_sha256, testpki::rsa_key(2048)},
        };
        for (const auto& c : cases) {
            const std::string input = std::string("s=(\"@method\" \"content-digest\");created=1;keyid=\"k\";alg=\"") +
                                      alg_name(c.alg) + "\"";
            Signature s = parse_signature_fields(input, "s=:AAAA:");
            CPPUNIT_ASSERT(s.params.alg == c.alg);
            const std::string base = signature_base(s.params, rfc_request());
            const std::string sig = sign_base(c.alg, c.key.get(), base);
            CPPUNIT_ASSERT_MESSAGE(alg_name(c.alg), verify_base(resolve_alg(s.params.alg, c.key.get()), c.key.get(), base, sig));
            CPPUNIT_ASSERT_MESSAGE(alg_name(c.alg), verify_base(c.alg, c.key.get(), base, httpsig::sign_base(c.alg, c.key.get(), base)));
            std::string flipped = base;
            flipped[2] ^= 0x20;
            CPPUNIT_ASSERT_MESSAGE(alg_name(c.alg), !verify_base(c.alg, c.key.get(), flipped, sig));
        }
    }

    void algorithm_must_fit_key() {
        auto ed = testpki::ed25519_key();
        auto p256 = testpki::ec_key("P-256");
        auto rsa = testpki::rsa_key(2048);
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), code_of([&] { resolve_alg(Alg::ecdsa_p256_sha256, ed.get()); }));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), code_of([&] { resolve_alg(Alg::ecdsa_p384_sha384, p256.get()); }));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of([&] { resolve_alg(std::nullopt, rsa.get()); }));
        CPPUNIT_ASSERT(resolve_alg(Alg::rsa_pss_sha512, rsa.get()) == Alg::rsa_pss_sha512);
        CPPUNIT_ASSERT(!verify_base(Alg::ed25519, p256.get(), "x", std::string(64, 'a')));
    }

    void parse_errors() {
        const std::pair<const char*, const char*> bad[] = {
            {"a=(\"@method\");created=1", "a=:AAAA:"},                        // no keyid
            {"a=(\"@method\");keyid=\"k\";alg=\"hmac-sha256\"", "a=:AAAA:"},   // not accepted
            {"a=(\"@method\");keyid=\"k\";alg=\"rsa-v1_5-sha1\"", "a=:AAAA:"},
            {"a=(\"@query-param\";name=\"x\");keyid=\"k\"", "a=:AAAA:"},      // component parameters
            {"a=(\"@method\" \"@method\");keyid=\"k\"", "a=:AAAA:"},          // duplicate
            {"a=(\"Content-Digest\");keyid=\"k\"", "a=:AAAA:"},               // upper case
            {"a=(\"@method\");keyid=k", "a=:AAAA:"},                          // keyid a token
            {"a=(\"@method\");keyid=\"k\";created=\"1\"", "a=:AAAA:"},        // created a string
            {"a=(\"@method\");keyid=\"k\"", "b=:AAAA:"},                      // no matching label
            {"a=(\"@method\");keyid=\"k\"", "a=\"AAAA\""},                    // signature not bytes
            {"a=\"@method\";keyid=\"k\"", "a=:AAAA:"},                        // not an inner list
            {"a=(@method);keyid=\"k\"", "a=:AAAA:"},                          // token, not string
            {"a=(\"@method\";keyid=\"k\"", "a=:AAAA:"},                       // not RFC 8941
        };
        for (const auto& [input, sig] : bad)
            CPPUNIT_ASSERT_EQUAL_MESSAGE(input, std::string("signature-malformed"),
                                         code_of([&] { parse_signature_fields(input, sig); }));
        // The first label with both fields is taken.
        const Signature s = parse_signature_fields("x=(\"@path\");keyid=\"1\", y=(\"@method\");keyid=\"2\"", "y=:AAAA:");
        CPPUNIT_ASSERT_EQUAL(std::string("2"), s.params.keyid);
        const Signature n = parse_signature_fields("a=();keyid=\"k\";nonce=\"abc\"", "a=:AAAA:");
        CPPUNIT_ASSERT_EQUAL(std::string("abc"), *n.params.nonce);
    }

    // Issue 21 item 4: the duplicate-component check and the label lookup at a size
    // a client can send (their work: tests/e2e/test_parser_work.py).
    void twenty_thousand_components_and_labels() {
        constexpr int n = 20000;
        std::string components, labels, sigs;
        for (int i = 0; i < n; ++i) {
            components += (i ? " \"c" : "\"c") + std::to_string(i) + "\"";
            labels += "i" + std::to_string(i) + "=(\"@method\");keyid=\"k\", ";
            sigs += "s" + std::to_string(i) + "=:AAAA:, ";
        }
        const Signature s = parse_signature_fields("a=(" + components + ");keyid=\"k\"", "a=:AAAA:");
        CPPUNIT_ASSERT_EQUAL(size_t(n), s.params.components.size());
        CPPUNIT_ASSERT_EQUAL(std::string("c19999"), s.params.components.back());
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of([&] {
            parse_signature_fields("a=(" + components + " \"c7\");keyid=\"k\"", "a=:AAAA:");
        }));
        // The one label both fields have is the last of each.
        const Signature last = parse_signature_fields(labels + "x=(\"@path\");keyid=\"found\"", sigs + "x=:AAAA:");
        CPPUNIT_ASSERT_EQUAL(std::string("found"), last.params.keyid);
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of([&] {
            parse_signature_fields(labels + "x=(\"@path\");keyid=\"k\"", sigs + "y=:AAAA:");
        }));
    }

    void required_components() {
        const Signature s = parse_signature_fields("a=(\"@method\" \"@path\");keyid=\"k\"", "a=:AAAA:");
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of([&] { require_component(s.params, "@method"); }));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of([&] { require_component(s.params, "content-digest"); }));
    }

    void times_with_skew() {
        Params p;
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), code_of([&] { check_times(p, 1000, 60, 0); }));
        p.created = 1050;
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of([&] { check_times(p, 1000, 60, 0); }));
        p.created = 1061;
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), code_of([&] { check_times(p, 1000, 60, 0); }));
        p.created = 900;
        p.expires = 950;
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of([&] { check_times(p, 1000, 60, 0); }));
        p.expires = 930;
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), code_of([&] { check_times(p, 1000, 60, 0); }));
        p.expires.reset();
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), code_of([&] { check_times(p, 1000, 10, 50); }));
    }

    void keyids() {
        for (const char* ok : {"provider-a", "key_1.v2", "A", "test-key-ed25519"}) CPPUNIT_ASSERT_MESSAGE(ok, valid_keyid(ok));
        for (const char* bad : {"", "../etc/passwd", ".hidden", "a/b", "a b", "-x", "k\n", "a\\b", "ä"})
            CPPUNIT_ASSERT_MESSAGE(bad, !valid_keyid(bad));
        CPPUNIT_ASSERT(!valid_keyid(std::string(129, 'a')));
    }

    void keys_from_certificates() {
        const auto ca = testpki::make_ca("ca");
        const auto leaf = testpki::issue(ca, "provider-a");
        const std::string path = testpki::write_pem("sigkey", leaf.cert.get());
        ossl::Pkey key = load_public_key(path);
        CPPUNIT_ASSERT(key);
        CPPUNIT_ASSERT(resolve_alg(std::nullopt, key.get()) == Alg::ecdsa_p256_sha256);
        std::remove(path.c_str());
        CPPUNIT_ASSERT(!load_public_key("/nonexistent.pem"));
        CPPUNIT_ASSERT(!public_key_from_pem("garbage"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(HttpSignatureTest);

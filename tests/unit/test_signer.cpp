#include "libcmi/audit_chain.hpp"
#include "libcmi/base64.hpp"
#include "libcmi/signer.hpp"
#include "test_pki.hpp"

#include <cppunit/extensions/HelperMacros.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace {

std::string generate_pem(const char* type, const char* curve = nullptr) {
    const auto key = curve ? testpki::ec_key(curve) : testpki::ed25519_key();
    if (!key || !EVP_PKEY_is_a(key.get(), type)) throw std::runtime_error("keygen");
    return testpki::private_key_pem(key.get());
}

}  // namespace

class SignerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SignerTest);
    CPPUNIT_TEST(ed25519_round_trip);
    CPPUNIT_TEST(p256_round_trip);
    CPPUNIT_TEST(other_keys_refused);
    CPPUNIT_TEST(base64_decoding);
    CPPUNIT_TEST(checkpoint_message_format);
    CPPUNIT_TEST_SUITE_END();

    void round_trip(const std::string& pem, const std::string& alg) {
        const cmi::Signer s = cmi::Signer::from_pem(pem);
        CPPUNIT_ASSERT_EQUAL(alg, s.algorithm());
        const auto sig = s.sign("message");
        const cmi::SignatureVerifier v = cmi::SignatureVerifier::from_pem(s.public_pem());
        CPPUNIT_ASSERT_EQUAL(s.keyid(), v.keyid());
        CPPUNIT_ASSERT(v.verify("message", sig));
        CPPUNIT_ASSERT(!v.verify("messagE", sig));
        auto bad = sig;
        bad[bad.size() / 2] ^= 1;
        CPPUNIT_ASSERT(!v.verify("message", bad));
        // The private key PEM works as a verifier too.
        CPPUNIT_ASSERT(cmi::SignatureVerifier::from_pem(pem).verify("message", sig));
    }

public:
    void ed25519_round_trip() { round_trip(generate_pem("ED25519"), "ed25519"); }
    void p256_round_trip() { round_trip(generate_pem("EC", "P-256"), "ecdsa-p256-sha256"); }

    void other_keys_refused() {
        CPPUNIT_ASSERT_THROW(cmi::Signer::from_pem(generate_pem("EC", "P-384")), std::runtime_error);
        CPPUNIT_ASSERT_THROW(cmi::Signer::from_pem("not a key"), std::runtime_error);
    }

    void base64_decoding() {
        const auto v = cmi::base64_decode_padded("aGVsbG8=");
        CPPUNIT_ASSERT_EQUAL(std::string("hello"), std::string(v.begin(), v.end()));
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, cmi::base64_decode_padded("").size());
        CPPUNIT_ASSERT_THROW(cmi::base64_decode_padded("a$=="), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(cmi::base64_decode_padded("abc"), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(cmi::base64_decode_padded("aGVsbG8"), std::invalid_argument);   // padding required
        CPPUNIT_ASSERT_THROW(cmi::base64_decode_padded("aGVsbG9="), std::invalid_argument);  // non-zero pad bits
    }

    void checkpoint_message_format() {
        CPPUNIT_ASSERT_EQUAL(std::string("cmi-audit checkpoint v1\n42\nabc\n"), cmi::audit::checkpoint_message(42, "abc"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SignerTest);

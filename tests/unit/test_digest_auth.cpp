#include "libcmi/digest_auth.hpp"

#include <cppunit/extensions/HelperMacros.h>

using namespace cmi::digest;

namespace {
// RFC 7616 §3.9.1.
const char* kExample =
    "username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
    "algorithm=%s, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, "
    "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, response=\"%s\", "
    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
const unsigned char kSalt[8] = {1, 2, 3, 4, 5, 6, 7, 8};
const unsigned char kSalt2[8] = {1, 2, 3, 4, 5, 6, 7, 9};
const char* kMd5Response = "8ca523f5e9506fed4657c9700eebdbec";
const char* kSha256Response = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";

std::string example(const char* alg, const char* response) {
    char buf[1024];
    std::snprintf(buf, sizeof buf, kExample, alg, response);
    return buf;
}
}  // namespace

class DigestAuthTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DigestAuthTest);
    CPPUNIT_TEST(rfc7616_md5_example);
    CPPUNIT_TEST(rfc7616_sha256_example);
    CPPUNIT_TEST(params_syntax);
    CPPUNIT_TEST(credentials_rejected);
    CPPUNIT_TEST(nonce_round_trip);
    CPPUNIT_TEST(nonce_tampering);
    CPPUNIT_TEST(nonce_generation);
    CPPUNIT_TEST(nonce_bound_to_algorithm);
    CPPUNIT_TEST(hex_compare);
    CPPUNIT_TEST_SUITE_END();

public:
    void rfc7616_md5_example() {
        auto c = parse_credentials(example("MD5", kMd5Response));
        CPPUNIT_ASSERT(c);
        CPPUNIT_ASSERT(c->algorithm == Algorithm::md5);
        const std::string h = ha1(Algorithm::md5, "Mufasa", "http-auth@example.org", "Circle of Life");
        CPPUNIT_ASSERT_EQUAL(std::string(kMd5Response), expected_response(Algorithm::md5, h, *c, "GET"));
        CPPUNIT_ASSERT(expected_response(Algorithm::md5, h, *c, "POST") != kMd5Response);
    }

    void rfc7616_sha256_example() {
        auto c = parse_credentials(example("SHA-256", kSha256Response));
        CPPUNIT_ASSERT(c);
        CPPUNIT_ASSERT(c->algorithm == Algorithm::sha256);
        CPPUNIT_ASSERT_EQUAL(std::string("Mufasa"), c->username);
        CPPUNIT_ASSERT_EQUAL(std::string("/dir/index.html"), c->uri);
        const std::string h = ha1(Algorithm::sha256, "Mufasa", "http-auth@example.org", "Circle of Life");
        CPPUNIT_ASSERT_EQUAL(std::size_t{64}, h.size());
        CPPUNIT_ASSERT_EQUAL(std::string(kSha256Response), expected_response(Algorithm::sha256, h, *c, "GET"));
    }

    void params_syntax() {
        auto p = parse_params("a=b, c=\"d, \\\"e\\\"\" ,, f = g");
        CPPUNIT_ASSERT(p);
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, p->size());
        CPPUNIT_ASSERT_EQUAL(std::string("d, \"e\""), p->at("c"));
        CPPUNIT_ASSERT_EQUAL(std::string("g"), p->at("f"));
        CPPUNIT_ASSERT(parse_params("A=1")->count("a"));
        CPPUNIT_ASSERT(!parse_params("a=1, a=2"));        // repeated
        CPPUNIT_ASSERT(!parse_params("a=\"unterminated"));
        CPPUNIT_ASSERT(!parse_params("a"));
        CPPUNIT_ASSERT(!parse_params("a=b c=d"));
        CPPUNIT_ASSERT(!parse_params("a=\"x\ny\""));
        CPPUNIT_ASSERT(parse_params("")->empty());
    }

    void credentials_rejected() {
        CPPUNIT_ASSERT(!parse_credentials(example("MD5-sess", kMd5Response)));
        CPPUNIT_ASSERT(!parse_credentials(example("SHA-512-256", kSha256Response)));
        // A response of the wrong length for the algorithm.
        CPPUNIT_ASSERT(!parse_credentials(example("SHA-256", kMd5Response)));
        std::string s = example("MD5", kMd5Response);
        CPPUNIT_ASSERT(!parse_credentials(s.substr(0, s.find(", qop"))));  // no qop/response
        std::string bad_nc = s;
        bad_nc.replace(bad_nc.find("00000001"), 8, "0000001g");
        CPPUNIT_ASSERT(!parse_credentials(bad_nc));
        std::string auth_int = s;
        auth_int.replace(auth_int.find("qop=auth"), 8, "qop=auth-int");
        CPPUNIT_ASSERT(!parse_credentials(auth_int));
        CPPUNIT_ASSERT(!parse_credentials(s + ", userhash=true"));
        CPPUNIT_ASSERT(parse_credentials(s + ", userhash=false"));
    }

    void nonce_round_trip() {
        const std::string n = make_nonce("secret", "realm", Algorithm::sha256, 1000, kSalt);
        CPPUNIT_ASSERT_EQUAL(std::size_t{72}, n.size());
        CPPUNIT_ASSERT(n != make_nonce("secret", "realm", Algorithm::sha256, 1000, kSalt2));
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, n, 1000, 300) == NonceState::fresh);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, n, 1300, 300) == NonceState::fresh);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, n, 1301, 300) == NonceState::stale);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, n, 900, 300) == NonceState::invalid);  // future
    }

    void nonce_tampering() {
        const std::string n = make_nonce("secret", "realm", Algorithm::sha256, 1000, kSalt);
        CPPUNIT_ASSERT(check_nonce("other", "realm", Algorithm::sha256, n, 1000, 300) == NonceState::invalid);
        CPPUNIT_ASSERT(check_nonce("secret", "other realm", Algorithm::sha256, n, 1000, 300) == NonceState::invalid);
        std::string later = make_nonce("secret", "realm", Algorithm::sha256, 2000, kSalt);
        // A fresh time with an old MAC.
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, later.substr(0, 16) + n.substr(16), 2000, 300) ==
                       NonceState::invalid);
        // Another salt with the MAC of this one.
        const std::string other = make_nonce("secret", "realm", Algorithm::sha256, 1000, kSalt2);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, n.substr(0, 16) + other.substr(16, 16) + n.substr(32), 1000,
                                   300) == NonceState::invalid);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, n.substr(1), 1000, 300) == NonceState::invalid);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, "", 1000, 300) == NonceState::invalid);
        std::string flipped = n;
        flipped.back() = flipped.back() == '0' ? '1' : '0';
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, flipped, 1000, 300) == NonceState::invalid);
    }

    void nonce_generation() {
        const std::string n = make_nonce("secret", "realm", Algorithm::sha256, 1000, kSalt, 0xdeadbeef);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, n, 1000, 300, 0xdeadbeef) == NonceState::fresh);
        // Another generation (a restart, another node): stale, so the client retries.
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, n, 1000, 300, 7) == NonceState::stale);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, n, 1000, 300) == NonceState::stale);
        // The generation is under the MAC.
        std::string forged = n;
        forged.replace(32, 8, "00000007");
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, forged, 1000, 300, 7) == NonceState::invalid);
        CPPUNIT_ASSERT(check_nonce("other", "realm", Algorithm::sha256, n, 1000, 300, 7) == NonceState::invalid);
    }

    void nonce_bound_to_algorithm() {
        // A nonce of the SHA-256 challenge answered with MD5 (a downgrade) is refused, and said why.
        const std::string n = make_nonce("secret", "realm", Algorithm::sha256, 1000, kSalt);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::md5, n, 1000, 300) == NonceState::other_algorithm);
        const std::string m = make_nonce("secret", "realm", Algorithm::md5, 1000, kSalt);
        CPPUNIT_ASSERT(m != n);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::md5, m, 1000, 300) == NonceState::fresh);
        CPPUNIT_ASSERT(check_nonce("secret", "realm", Algorithm::sha256, m, 1000, 300) == NonceState::other_algorithm);
        // Another realm is not "another algorithm": simply not ours.
        CPPUNIT_ASSERT(check_nonce("secret", "other", Algorithm::md5, n, 1000, 300) == NonceState::invalid);
    }

    void hex_compare() {
        CPPUNIT_ASSERT(hex_equal("abCD", "ABcd"));
        CPPUNIT_ASSERT(!hex_equal("abcd", "abce"));
        CPPUNIT_ASSERT(!hex_equal("abcd", "abc"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DigestAuthTest);

#include "libcmi/base64.hpp"
#include "libcmi/content_digest.hpp"
#include "libcmi/digest.hpp"

#include <cppunit/extensions/HelperMacros.h>

using namespace cmi;

class DigestTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DigestTest);
    CPPUNIT_TEST(rfc9530_examples);
    CPPUNIT_TEST(streaming_equals_one_shot);
    CPPUNIT_TEST(algorithm_names);
    CPPUNIT_TEST(constant_time_compare);
    CPPUNIT_TEST(base64_strict);
    CPPUNIT_TEST(content_digest_picks_strongest_accepted);
    CPPUNIT_TEST(content_digest_refuses);
    CPPUNIT_TEST_SUITE_END();

public:
    void rfc9530_examples() {
        // RFC 9530 §2 examples: the body {"hello": "world"}
        const std::string body = "{\"hello\": \"world\"}";
        CPPUNIT_ASSERT_EQUAL(std::string("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"),
                             content_digest_member(DigestAlg::sha256, digest_of(DigestAlg::sha256, body)));
        CPPUNIT_ASSERT_EQUAL(
            std::string("sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"),
            content_digest_member(DigestAlg::sha512, digest_of(DigestAlg::sha512, body)));
        CPPUNIT_ASSERT_EQUAL(std::string("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
                             base64_encode(digest_of(DigestAlg::sha256, "")));
    }

    void streaming_equals_one_shot() {
        std::string data;
        for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 7));
        StreamingDigest d(DigestAlg::sha512);
        for (size_t off = 0; off < data.size(); off += 8191) d.update(data.data() + off, std::min<size_t>(8191, data.size() - off));
        CPPUNIT_ASSERT_EQUAL(static_cast<unsigned long long>(data.size()), d.bytes());
        CPPUNIT_ASSERT(digest_equal(digest_of(DigestAlg::sha512, data), d.finish()));
        CPPUNIT_ASSERT_THROW(d.update("x", 1), std::logic_error);
        CPPUNIT_ASSERT_THROW(d.finish(), std::logic_error);
    }

    void algorithm_names() {
        CPPUNIT_ASSERT(digest_alg_from_name("sha-256") == DigestAlg::sha256);
        CPPUNIT_ASSERT(digest_alg_from_name("sha-512") == DigestAlg::sha512);
        CPPUNIT_ASSERT(!digest_alg_from_name("sha"));
        CPPUNIT_ASSERT(!digest_alg_from_name("md5"));
        CPPUNIT_ASSERT(!digest_alg_from_name("SHA-256"));
        CPPUNIT_ASSERT_EQUAL(std::string("sha-512"), std::string(digest_alg_name(DigestAlg::sha512)));
    }

    void constant_time_compare() {
        CPPUNIT_ASSERT(digest_equal("abc", "abc"));
        CPPUNIT_ASSERT(!digest_equal("abc", "abd"));
        CPPUNIT_ASSERT(!digest_equal("abc", "ab"));
    }

    void base64_strict() {
        CPPUNIT_ASSERT_EQUAL(std::string("hello"), *base64_decode("aGVsbG8="));
        CPPUNIT_ASSERT_EQUAL(std::string("hello"), *base64_decode("aGVsbG8"));
        CPPUNIT_ASSERT(!base64_decode("aGVsbG8=="));
        CPPUNIT_ASSERT(!base64_decode("aGVs bG8="));
        CPPUNIT_ASSERT(!base64_decode("aGVsbG9="));  // non-zero pad bits
        CPPUNIT_ASSERT(!base64_decode("a"));
        CPPUNIT_ASSERT_EQUAL(std::string(), *base64_decode(""));
        CPPUNIT_ASSERT_EQUAL(std::string("aGVsbG8="), base64_encode("hello"));
    }

    void content_digest_picks_strongest_accepted() {
        const std::string body = "{\"hello\": \"world\"}";
        const std::string both = content_digest_member(DigestAlg::sha256, digest_of(DigestAlg::sha256, body)) + ", " +
                                 content_digest_member(DigestAlg::sha512, digest_of(DigestAlg::sha512, body));
        auto c = parse_content_digest(both, {DigestAlg::sha256, DigestAlg::sha512});
        CPPUNIT_ASSERT(c.alg == DigestAlg::sha512);
        CPPUNIT_ASSERT(digest_equal(digest_of(DigestAlg::sha512, body), c.value));
        c = parse_content_digest(both, {DigestAlg::sha256});
        CPPUNIT_ASSERT(c.alg == DigestAlg::sha256);
        // Unknown algorithms are ignored when an accepted one is present.
        c = parse_content_digest("md5=:AAAAAAAAAAAAAAAAAAAAAA==:, " + both, {DigestAlg::sha256});
        CPPUNIT_ASSERT(c.alg == DigestAlg::sha256);
    }

    void content_digest_refuses() {
        const std::vector<DigestAlg> all{DigestAlg::sha256, DigestAlg::sha512};
        CPPUNIT_ASSERT_THROW(parse_content_digest("sha=:2jmj7l5rSw0yVb/vlWAYkK/YBwk=:", all), ContentDigestError);
        CPPUNIT_ASSERT_THROW(parse_content_digest("md5=:1B2M2Y8AsgTpgAmY7PhCfg==:", all), ContentDigestError);
        CPPUNIT_ASSERT_THROW(parse_content_digest("sha-256=:AAAA:", all), ContentDigestError);  // wrong length
        CPPUNIT_ASSERT_THROW(parse_content_digest("sha-256=\"abc\"", all), ContentDigestError);
        CPPUNIT_ASSERT_THROW(parse_content_digest("sha-256=:not base64:", all), ContentDigestError);
        CPPUNIT_ASSERT_THROW(parse_content_digest("", all), ContentDigestError);
        CPPUNIT_ASSERT_THROW(parse_content_digest("sha-512=:" + base64_encode(digest_of(DigestAlg::sha512, "")) + ":",
                                                  {DigestAlg::sha256}),
                             ContentDigestError);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DigestTest);

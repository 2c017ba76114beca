#include "libcmi/receipt.hpp"
#include "libcmi/sha256.hpp"

#include <cppunit/extensions/HelperMacros.h>

using namespace cmi::audit;

class ReceiptTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ReceiptTest);
    CPPUNIT_TEST(canonical_form);
    CPPUNIT_TEST(format_and_parse);
    CPPUNIT_TEST(parse_rejects);
    CPPUNIT_TEST_SUITE_END();

public:
    void canonical_form() {
        ReceiptFacts f;
        f.txid = "t";
        f.time = "2026-01-01T00:00:00.000000Z";
        f.method = "PUT";
        f.uri = "/a\"\n";
        f.status = 201;
        CPPUNIT_ASSERT_EQUAL(std::string("{\"txid\":\"t\",\"time\":\"2026-01-01T00:00:00.000000Z\",\"user\":null,"
                                         "\"method\":\"PUT\",\"uri\":\"/a\\\"\\n\",\"digest\":null,\"status\":201}"),
                             receipt_canonical(f));
        const auto h = receipt_hash(f);
        CPPUNIT_ASSERT_EQUAL(cmi::sha256_hex(receipt_canonical(f)), cmi::hex(h.data(), h.size()));
    }

    void format_and_parse() {
        Receipt r{"0192f3c4-a1b2-7000-8000-000000000000", std::vector<unsigned char>(32, 7), {1, 2, 3}, "abcd"};
        const std::string v = format_receipt(r);
        CPPUNIT_ASSERT(v.rfind("txid=\"0192f3c4-a1b2-7000-8000-000000000000\", hash=:", 0) == 0);
        const auto p = parse_receipt(v);
        CPPUNIT_ASSERT(p);
        CPPUNIT_ASSERT_EQUAL(r.txid, p->txid);
        CPPUNIT_ASSERT(r.hash == p->hash && r.sig == p->sig);
        CPPUNIT_ASSERT_EQUAL(r.keyid, p->keyid);
    }

    void parse_rejects() {
        CPPUNIT_ASSERT(!parse_receipt(""));
        CPPUNIT_ASSERT(!parse_receipt("txid=\"x\""));
        CPPUNIT_ASSERT(!parse_receipt("txid=\"x\", hash=:AAAA:, sig=:AAAA:, keyid=\"k\""));  // hash not 32 bytes
        Receipt r{"x", std::vector<unsigned char>(32, 1), {1}, "k"};
        const std::string v = format_receipt(r);
        CPPUNIT_ASSERT(!parse_receipt(v + ", extra=\"1\""));
        CPPUNIT_ASSERT(!parse_receipt(v + ", txid=\"y\""));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ReceiptTest);

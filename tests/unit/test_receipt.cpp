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

    static Receipt sample(const std::string& txid = "0192f3c4-a1b2-7000-8000-000000000000") {
        return Receipt{txid, 4711, std::string(64, 'e'), std::vector<unsigned char>(32, 7), {1, 2, 3}, "abcd"};
    }

    void format_and_parse() {
        const Receipt r = sample();
        const std::string v = format_receipt(r);
        CPPUNIT_ASSERT_EQUAL("txid=\"0192f3c4-a1b2-7000-8000-000000000000\", seq=4711, begin=\"" + std::string(64, 'e') +
                                 "\", hash=:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=:, sig=:AQID:, keyid=\"abcd\"",
                             v);
        const auto p = parse_receipt(v);
        CPPUNIT_ASSERT(p);
        CPPUNIT_ASSERT_EQUAL(r.txid, p->txid);
        CPPUNIT_ASSERT_EQUAL(r.seq, p->seq);
        CPPUNIT_ASSERT_EQUAL(r.begin, p->begin);
        CPPUNIT_ASSERT(r.hash == p->hash && r.sig == p->sig);
        CPPUNIT_ASSERT_EQUAL(r.keyid, p->keyid);
        // What the key signs: the place in the chain and the facts' hash, as text.
        CPPUNIT_ASSERT_EQUAL("cmi-audit receipt v1\n0192f3c4-a1b2-7000-8000-000000000000\n4711\n" + std::string(64, 'e') +
                                 "\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
                             receipt_message(r));
    }

    void parse_rejects() {
        CPPUNIT_ASSERT(!parse_receipt(""));
        CPPUNIT_ASSERT(!parse_receipt("txid=\"x\""));
        CPPUNIT_ASSERT(!parse_receipt("txid=\"x\", hash=:AAAA:, sig=:AAAA:, keyid=\"k\""));  // hash not 32 bytes
        const std::string v = format_receipt(sample("x"));
        CPPUNIT_ASSERT(parse_receipt(v));
        CPPUNIT_ASSERT(!parse_receipt(v + ", extra=\"1\""));
        CPPUNIT_ASSERT(!parse_receipt(v + ", txid=\"y\""));
        CPPUNIT_ASSERT(!parse_receipt(v + ", seq=1"));
        // A receipt without its place in the chain (the first format) is not accepted.
        CPPUNIT_ASSERT(!parse_receipt("txid=\"x\", hash=:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=:, sig=:AQID:, keyid=\"k\""));
        auto with = [&](const std::string& from, const std::string& to) {
            std::string s = v;
            s.replace(s.find(from), from.size(), to);
            return parse_receipt(s);
        };
        CPPUNIT_ASSERT(!with("seq=4711", "seq=0"));
        CPPUNIT_ASSERT(!with("seq=4711", "seq=04711"));
        CPPUNIT_ASSERT(!with("seq=4711", "seq=-1"));
        CPPUNIT_ASSERT(!with("seq=4711", "seq=\"4711\""));
        CPPUNIT_ASSERT(!with("seq=4711", "seq=1234567890123456"));  // more than 15 digits
        CPPUNIT_ASSERT(!with(std::string(64, 'e'), std::string(63, 'e')));
        CPPUNIT_ASSERT(!with(std::string(64, 'e'), std::string(64, 'E')));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ReceiptTest);

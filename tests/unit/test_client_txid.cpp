#include "libcmi/client_txid.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <string>

class ClientTxidTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ClientTxidTest);
    CPPUNIT_TEST(accepts_allowed_characters);
    CPPUNIT_TEST(rejects_others);
    CPPUNIT_TEST(length_limit);
    CPPUNIT_TEST_SUITE_END();

public:
    void accepts_allowed_characters() {
        CPPUNIT_ASSERT(cmi::is_valid_client_txid("order-42"));
        CPPUNIT_ASSERT(cmi::is_valid_client_txid("A.b_c:D-9"));
    }
    void rejects_others() {
        CPPUNIT_ASSERT(!cmi::is_valid_client_txid(""));
        CPPUNIT_ASSERT(!cmi::is_valid_client_txid("a b"));
        CPPUNIT_ASSERT(!cmi::is_valid_client_txid("a\"b"));
        CPPUNIT_ASSERT(!cmi::is_valid_client_txid("a\nb"));
        CPPUNIT_ASSERT(!cmi::is_valid_client_txid("caf\xc3\xa9"));
        CPPUNIT_ASSERT(!cmi::is_valid_client_txid(std::string("a\0b", 3)));
        CPPUNIT_ASSERT(!cmi::is_valid_client_txid("a/b"));
    }
    void length_limit() {
        CPPUNIT_ASSERT(cmi::is_valid_client_txid(std::string(128, 'x')));
        CPPUNIT_ASSERT(!cmi::is_valid_client_txid(std::string(129, 'x')));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ClientTxidTest);

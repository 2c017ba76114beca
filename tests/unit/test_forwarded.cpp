#include "libcmi/forwarded.hpp"

#include <cppunit/extensions/HelperMacros.h>

using cmi::last_forwarded_proto;
using cmi::last_x_forwarded_proto;

class ForwardedTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ForwardedTest);
    CPPUNIT_TEST(x_forwarded_proto_last_hop);
    CPPUNIT_TEST(x_forwarded_proto_invalid);
    CPPUNIT_TEST(forwarded_rfc7239_examples);
    CPPUNIT_TEST(forwarded_last_element_decides);
    CPPUNIT_TEST(forwarded_invalid);
    CPPUNIT_TEST_SUITE_END();

public:
    void x_forwarded_proto_last_hop() {
        CPPUNIT_ASSERT_EQUAL(std::string("https"), *last_x_forwarded_proto("https"));
        CPPUNIT_ASSERT_EQUAL(std::string("https"), *last_x_forwarded_proto(" HTTPS "));
        CPPUNIT_ASSERT_EQUAL(std::string("http"), *last_x_forwarded_proto("https, http"));
        CPPUNIT_ASSERT_EQUAL(std::string("https"), *last_x_forwarded_proto("http,https"));
    }

    void x_forwarded_proto_invalid() {
        CPPUNIT_ASSERT(!last_x_forwarded_proto(""));
        CPPUNIT_ASSERT(!last_x_forwarded_proto("https,"));
        CPPUNIT_ASSERT(!last_x_forwarded_proto("ht tps"));
        CPPUNIT_ASSERT(!last_x_forwarded_proto("\"https\""));
    }

    void forwarded_rfc7239_examples() {
        CPPUNIT_ASSERT_EQUAL(std::string("http"), *last_forwarded_proto("for=192.0.2.43;proto=http;by=203.0.113.43"));
        CPPUNIT_ASSERT_EQUAL(std::string("https"), *last_forwarded_proto("for=\"[2001:db8:cafe::17]:4711\";proto=https"));
        CPPUNIT_ASSERT_EQUAL(std::string("https"), *last_forwarded_proto("Proto=\"HTTPS\""));
        CPPUNIT_ASSERT(!last_forwarded_proto("for=192.0.2.60"));
    }

    void forwarded_last_element_decides() {
        CPPUNIT_ASSERT_EQUAL(std::string("http"), *last_forwarded_proto("proto=https, for=192.0.2.1;proto=http"));
        CPPUNIT_ASSERT(!last_forwarded_proto("proto=https, for=192.0.2.1"));
        CPPUNIT_ASSERT_EQUAL(std::string("https"), *last_forwarded_proto("for=\"a,b\";proto=https"));
    }

    void forwarded_invalid() {
        CPPUNIT_ASSERT(!last_forwarded_proto("proto=https;proto=https"));
        CPPUNIT_ASSERT(!last_forwarded_proto("proto"));
        CPPUNIT_ASSERT(!last_forwarded_proto("proto=\"https"));
        CPPUNIT_ASSERT(!last_forwarded_proto("=https"));
        CPPUNIT_ASSERT(!last_forwarded_proto("proto=ht/tps"));
        CPPUNIT_ASSERT(!last_forwarded_proto("proto=\"1https\""));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ForwardedTest);

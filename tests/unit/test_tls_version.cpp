#include "libcmi/tls_version.hpp"

#include <cppunit/extensions/HelperMacros.h>

class TlsVersionTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TlsVersionTest);
    CPPUNIT_TEST(ranks);
    CPPUNIT_TEST_SUITE_END();

public:
    void ranks() {
        CPPUNIT_ASSERT_EQUAL(13, cmi::tls_version_rank("TLSv1.3"));
        CPPUNIT_ASSERT_EQUAL(12, cmi::tls_version_rank("TLSv1.2"));
        CPPUNIT_ASSERT_EQUAL(0, cmi::tls_version_rank("TLSv1.1"));
        CPPUNIT_ASSERT_EQUAL(0, cmi::tls_version_rank("TLSv1"));
        CPPUNIT_ASSERT_EQUAL(0, cmi::tls_version_rank("SSLv3"));
        CPPUNIT_ASSERT_EQUAL(0, cmi::tls_version_rank(""));
        CPPUNIT_ASSERT_EQUAL(0, cmi::tls_version_rank("tlsv1.3"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TlsVersionTest);

#include "libcmi/saml_assertion.hpp"
#include "libcmi/saml_time.hpp"

#include <cppunit/extensions/HelperMacros.h>

using cmi::saml::parse_time;

class SamlTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SamlTest);
    CPPUNIT_TEST(times);
    CPPUNIT_TEST(bad_times);
    CPPUNIT_TEST(hostile_documents_are_refused_before_any_signature);
    CPPUNIT_TEST_SUITE_END();

public:
    void times() {
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, *parse_time("1970-01-01T00:00:00Z"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1700000000}, *parse_time("2023-11-14T22:13:20Z"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1700000000}, *parse_time("2023-11-14T22:13:20.999Z"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1700000000}, *parse_time("2023-11-15T00:13:20+02:00"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{951782400}, *parse_time("2000-02-29T00:00:00Z"));
    }

    void bad_times() {
        for (const char* s : {"", "2023-11-14T22:13:20", "2023-11-14 22:13:20Z", "2023-13-14T22:13:20Z",
                              "2023-02-29T00:00:00Z", "2023-11-14T24:00:00Z", "2023-11-14T22:13:20.Z",
                              "2023-11-14T22:13:20Zjunk", "2023-11-14T22:13:20+2:00", "x023-11-14T22:13:20Z"})
            CPPUNIT_ASSERT_MESSAGE(s, !parse_time(s));
    }

    void hostile_documents_are_refused_before_any_signature() {
        cmi::saml::TrustedIdps none;
        cmi::saml::Policy p;
        p.sp_entity_id = "https://sp";
        const char* docs[] = {
            "",
            "not xml",
            "<!DOCTYPE x [<!ENTITY e \"admin\">]><saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"a\"><x ID=\"a\"/></saml:Assertion>",
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>",
            "<other/>",
        };
        for (const char* d : docs) {
            auto r = cmi::saml::validate(d, none, p);
            CPPUNIT_ASSERT_MESSAGE(d, !r.ok);
            CPPUNIT_ASSERT(!r.error.empty());
        }
        CPPUNIT_ASSERT(!cmi::saml::validate(std::string(300 * 1024, ' '), none, p).ok);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SamlTest);

#include "libcmi/reserved_names.hpp"

#include "httpd/notes.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <string>

using cmi::is_reserved_header_name;

class ReservedNamesTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ReservedNamesTest);
    CPPUNIT_TEST(every_published_key_is_reserved);
    CPPUNIT_TEST(spellings_backends_confuse);
    CPPUNIT_TEST(the_clients_own_headers_stay);
    CPPUNIT_TEST(long_and_odd_names);
    CPPUNIT_TEST_SUITE_END();

public:
    // A key a module publishes (env, notes, request header) and the list drifting apart
    // would let a spoofed variant through again.
    void every_published_key_is_reserved() {
        namespace h = cmi::httpd;
        for (const char* k : {h::kTransactionIdKey, h::kTransactionIdHeader, h::kRefusalKey, h::kUserKey,
                              h::kAuthMechKey, h::kAuthIssuerKey, h::kContentValidationKey, h::kContentFormatKey,
                              h::kContentDigestKey, h::kContentSignerKey, h::kContentItemsKey,
                              h::kContentItemsFileKey, h::kSamlNameIdKey, h::kSamlAssertionIdKey})
            CPPUNIT_ASSERT_MESSAGE(k, is_reserved_header_name(k));
        CPPUNIT_ASSERT(is_reserved_header_name(std::string(h::kSamlAttrPrefix) + "role"));
    }

    void spellings_backends_confuse() {
        for (const char* n : {"CMI-Transaction-ID", "CMI_Transaction_ID", "Cmi.Transaction.Id", "cmi-transaction-id",
                              "CMITRANSACTIONID", "CMI--Transaction__ID", "CMI~Transaction!ID", "cmi-user",
                              "CMI.USER", "Cmi-Auth-Mech", "cmi_auth_issuer", "CMI-Content-Validation",
                              "CMI-SAML-Attr-eduPersonAffiliation", "cmi.saml.nameid", "CMI-Refusal"})
            CPPUNIT_ASSERT_MESSAGE(n, is_reserved_header_name(n));
    }

    void the_clients_own_headers_stay() {
        for (const char* n : {"CMI-Client-Transaction-ID", "CMI-Content-Signature", "CMI-Receipt", "X-CMI-User",
                              "CMI-User-Agent", "CMI-Users", "Transaction-ID", "User", "Content-Digest",
                              "CMI-SAML-Attr", "CMI", ""})
            CPPUNIT_ASSERT_MESSAGE(n, !is_reserved_header_name(n));
    }

    void long_and_odd_names() {
        const std::string attr = "CMI-SAML-ATTR-" + std::string(5000, 'x');
        CPPUNIT_ASSERT(is_reserved_header_name(attr));
        CPPUNIT_ASSERT(!is_reserved_header_name("CMI-Transaction-ID-" + std::string(5000, 'x')));
        CPPUNIT_ASSERT(is_reserved_header_name(std::string(5000, '-') + "CMI_USER" + std::string(5000, '_')));
        CPPUNIT_ASSERT(!is_reserved_header_name(std::string("CMI\0USER", 8) + "X"));
        CPPUNIT_ASSERT(is_reserved_header_name(std::string("CMI\0USER", 8)));  // NUL is punctuation here
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ReservedNamesTest);

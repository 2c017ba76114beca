#include "libcmi/signer_vars.hpp"
#include "test_pki.hpp"

#include <cppunit/extensions/HelperMacros.h>

class SignerVarsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SignerVarsTest);
    CPPUNIT_TEST(subject_and_issuer_fields);
    CPPUNIT_TEST(names_known_at_parse_time);
    CPPUNIT_TEST_SUITE_END();

    static std::string get(const cmi::SignerVars& v, const char* name) {
        const std::string* s = cmi::find_signer_variable(v, name);
        CPPUNIT_ASSERT_MESSAGE(name, s != nullptr);
        return *s;
    }

public:
    void subject_and_issuer_fields() {
        const auto ca = testpki::make_ca("vars CA");
        const auto signer = testpki::issue(ca, "provider-a");
        const auto v = cmi::signer_variables(signer.cert.get());
        CPPUNIT_ASSERT_EQUAL(std::string("provider-a"), get(v, "SIGNER_S_DN_CN"));
        CPPUNIT_ASSERT_EQUAL(std::string("vars CA"), get(v, "SIGNER_I_DN_CN"));
        CPPUNIT_ASSERT(get(v, "SIGNER_S_DN").find("CN=provider-a") != std::string::npos);
        CPPUNIT_ASSERT(!get(v, "SIGNER_M_SERIAL").empty());
        CPPUNIT_ASSERT(get(v, "SIGNER_V_END").find("GMT") != std::string::npos);
        CPPUNIT_ASSERT(cmi::find_signer_variable(v, "SIGNER_SAN_Email_0") == nullptr);
        CPPUNIT_ASSERT(cmi::find_signer_variable(v, "SIGNER_S_DN_CN_1") == nullptr);
        CPPUNIT_ASSERT(cmi::signer_variables(nullptr).empty());
    }

    void names_known_at_parse_time() {
        for (const char* ok : {"SIGNER_S_DN", "SIGNER_S_DN_CN", "SIGNER_S_DN_OU_2", "SIGNER_I_DN_Email", "SIGNER_S_DN_ST",
                               "SIGNER_S_DN_UID", "SIGNER_M_SERIAL", "SIGNER_V_START", "SIGNER_SAN_Email_0",
                               "SIGNER_SAN_DNS_12"})
            CPPUNIT_ASSERT_MESSAGE(ok, cmi::is_signer_variable(ok));
        for (const char* bad : {"SIGNER_", "SIGNER_S_DN_", "SIGNER_S_DN_XYZ", "SIGNER_S_DN_CN_", "SIGNER_S_DN_CN_x",
                                "SIGNER_SAN_Email_", "SIGNER_SAN_URI_0", "SIGNER_S_DNX", "SSL_CLIENT_S_DN_CN"})
            CPPUNIT_ASSERT_MESSAGE(bad, !cmi::is_signer_variable(bad));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SignerVarsTest);

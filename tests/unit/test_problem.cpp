#include "libcmi/problem.hpp"

#include <cppunit/extensions/HelperMacros.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

class ProblemTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ProblemTest);
    CPPUNIT_TEST(every_design_code_has_its_status);
    CPPUNIT_TEST(document_members);
    CPPUNIT_TEST(escapes_strings);
    CPPUNIT_TEST(replaces_invalid_utf8);
    CPPUNIT_TEST(unknown_code_throws);
    CPPUNIT_TEST(extension_members);
    CPPUNIT_TEST_SUITE_END();

public:
    void every_design_code_has_its_status() {
        const std::pair<const char*, int> expected[] = {
            {"tls-required", 403},          {"tls-too-weak", 403},
            {"authentication-required", 401}, {"authentication-failed", 401},
            {"forbidden", 403},             {"signature-required", 400},
            {"signature-malformed", 400},   {"digest-mismatch", 422},
            {"signature-invalid", 422},     {"signer-untrusted", 403},
            {"signer-not-bound", 403},      {"manifest-malformed", 400},
            {"content-missing", 422},       {"too-large", 413},
            {"audit-unavailable", 503},
            {"validation-unavailable", 503},
            {"signature-reused", 409},      {"copy-refused", 403},
            {"method-refused", 405},        {"partial-update-refused", 400},
        };
        for (const auto& [code, status] : expected) {
            const cmi::ProblemType* t = cmi::find_problem_type(code);
            CPPUNIT_ASSERT_MESSAGE(code, t != nullptr);
            CPPUNIT_ASSERT_EQUAL(status, t->status);
        }
    }

    void document_members() {
        const auto doc = nlohmann::json::parse(cmi::problem_json("tls-required", "Use TLS.", "0192f3c4-a1b2-7000-8000-000000000000"));
        CPPUNIT_ASSERT_EQUAL(std::string("tag:mod-cmi,2026:tls-required"), doc["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("TLS required"), doc["title"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(403, doc["status"].get<int>());
        CPPUNIT_ASSERT_EQUAL(std::string("Use TLS."), doc["detail"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("0192f3c4-a1b2-7000-8000-000000000000"), doc["transaction_id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::size_t{5}, doc.size());
    }

    void escapes_strings() {
        const std::string detail = "quote \" backslash \\ newline \n tab \t nul " + std::string(1, '\0') + " <b>";
        const std::string text = cmi::problem_json("forbidden", detail, "x");
        CPPUNIT_ASSERT(text.find('\n') == std::string::npos);
        CPPUNIT_ASSERT_EQUAL(detail, nlohmann::json::parse(text)["detail"].get<std::string>());
    }

    void replaces_invalid_utf8() {
        const std::string text = cmi::problem_json("forbidden", "bad \xff\xfe byte", "x");
        const auto doc = nlohmann::json::parse(text);
        CPPUNIT_ASSERT(doc["detail"].get<std::string>().find("\xef\xbf\xbd") != std::string::npos);
    }

    void unknown_code_throws() {
        CPPUNIT_ASSERT_THROW(cmi::problem_json("no-such-code", "", ""), std::invalid_argument);
        CPPUNIT_ASSERT(cmi::find_problem_type("tls-required-x") == nullptr);
    }

    void extension_members() {
        const std::string doc = cmi::problem_json("digest-mismatch", "d", "t",
                                             R"({"items":[{"id":"a","result":"invalid"}],"status":200})");
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"tag:mod-cmi,2026:digest-mismatch","title":)"),
                             doc.substr(0, doc.find("\"title\":") + 8));
        CPPUNIT_ASSERT(doc.find(R"("status":422)") != std::string::npos);  // not overridden
        CPPUNIT_ASSERT(doc.find(R"("status":200)") == std::string::npos);
        CPPUNIT_ASSERT(doc.find(R"("items":[{"id":"a","result":"invalid"}])") != std::string::npos);
        CPPUNIT_ASSERT_THROW(cmi::problem_json("digest-mismatch", "d", "t", "[1]"), std::invalid_argument);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ProblemTest);

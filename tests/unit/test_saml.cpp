#include "libcmi/saml_assertion.hpp"
#include "libcmi/saml_time.hpp"

#include <cppunit/extensions/HelperMacros.h>

using cmi::saml::parse_time;

class SamlTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SamlTest);
    CPPUNIT_TEST(times);
    CPPUNIT_TEST(bad_times);
    CPPUNIT_TEST(hostile_documents_are_refused_before_any_signature);
    CPPUNIT_TEST(users_are_scoped_by_their_idp);
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

    void users_are_scoped_by_their_idp() {
        using cmi::saml::scoped_user;
        cmi::saml::TrustedIdp plain, scoped, aliased;
        scoped.scopes = {"a.example", "b.example"};
        aliased.alias = "partner";
        std::string why;
        CPPUNIT_ASSERT_EQUAL(std::string("alice"), scoped_user(plain, "alice", why));
        CPPUNIT_ASSERT_EQUAL(std::string("alice@partner"), scoped_user(aliased, "alice", why));
        CPPUNIT_ASSERT(why.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("x@a.example"), scoped_user(scoped, "x@a.example", why));
        CPPUNIT_ASSERT_EQUAL(std::string("x@y@b.example"), scoped_user(scoped, "x@y@b.example", why));
        for (const char* bad : {"alice", "alice@", "@a.example", "alice@c.example", "alice@A.example",
                                "alice@a.example.evil", "alice@sub.a.example"}) {
            why.clear();
            CPPUNIT_ASSERT_MESSAGE(bad, scoped_user(scoped, bad, why).empty());
            CPPUNIT_ASSERT_MESSAGE(bad, !why.empty());
            CPPUNIT_ASSERT(why.find("alice") == std::string::npos);  // never the asserted content
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SamlTest);

#include "libcmi/saml_cache.hpp"

class SamlCacheTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SamlCacheTest);
    CPPUNIT_TEST(find_until_expiry);
    CPPUNIT_TEST(capacity_evicts_oldest);
    CPPUNIT_TEST(key_binds_the_policy);
    CPPUNIT_TEST(bytes_are_bounded);
    CPPUNIT_TEST(request_binding_is_checked_on_every_use);
    CPPUNIT_TEST_SUITE_END();

public:
    void find_until_expiry() {
        cmi::saml::ValidatedCache c(10);
        cmi::saml::Identity id;
        id.user = "alice";
        c.put("k", id, 100);
        CPPUNIT_ASSERT_EQUAL(std::string("alice"), c.find("k", 99)->user);
        CPPUNIT_ASSERT(!c.find("k", 100));
        CPPUNIT_ASSERT(!c.find("k", 50));  // dropped when found expired
        CPPUNIT_ASSERT(!c.find("other", 0));
    }

    void capacity_evicts_oldest() {
        cmi::saml::ValidatedCache c(2);
        cmi::saml::Identity id;
        c.put("a", id, 100);
        c.put("b", id, 100);
        c.put("c", id, 100);
        CPPUNIT_ASSERT(!c.find("a", 0));
        CPPUNIT_ASSERT(c.find("b", 0) && c.find("c", 0));
        cmi::saml::ValidatedCache none(0);
        none.put("a", id, 100);
        CPPUNIT_ASSERT(!none.find("a", 0));
    }

    void key_binds_the_policy() {
        cmi::saml::TrustedIdps idps, other;
        cmi::saml::Policy p;
        p.sp_entity_id = "https://sp";
        p.recipients = {"https://h/x"};
        using K = cmi::saml::ValidatedCache;
        const std::string base = K::key("<a/>", p, idps);
        CPPUNIT_ASSERT(base == K::key("<a/>", p, idps));
        CPPUNIT_ASSERT(base != K::key("<b/>", p, idps));
        CPPUNIT_ASSERT(base != K::key("<a/>", p, other));
        auto q = p;
        q.sp_entity_id = "https://other";
        CPPUNIT_ASSERT(base != K::key("<a/>", q, idps));
        // Not the recipients: they follow the request's URL (a client varies
        // its query string at will) and are checked on every use.
        q = p;
        q.recipients = {"https://h/x?q=1", "https://h/x"};
        CPPUNIT_ASSERT(base == K::key("<a/>", q, idps));
        q.recipient_required = true;
        CPPUNIT_ASSERT(base == K::key("<a/>", q, idps));
        q = p;
        q.holder_of_key = true;
        CPPUNIT_ASSERT(base != K::key("<a/>", q, idps));
        auto q2 = q;
        q2.client_cert_der = "cert";
        CPPUNIT_ASSERT(K::key("<a/>", q, idps) != K::key("<a/>", q2, idps));
        q = p;
        q.user_attribute = "mail";
        CPPUNIT_ASSERT(base != K::key("<a/>", q, idps));
    }

    void bytes_are_bounded() {
        // An identity of 500 attribute values of 100 bytes: about 65 KB.
        cmi::saml::Identity big;
        for (int i = 0; i < 500; ++i) big.attributes.emplace_back("attr" + std::to_string(i), std::string(100, 'v'));
        const std::size_t one = cmi::saml::ValidatedCache::footprint("k0", big);
        CPPUNIT_ASSERT(one > 500 * 100);
        cmi::saml::ValidatedCache c(10000, 1u << 20);
        for (int i = 0; i < 1000; ++i) c.put("k" + std::to_string(i), big, 100);
        CPPUNIT_ASSERT(c.bytes() <= 1u << 20);
        CPPUNIT_ASSERT(c.size() >= (1u << 20) / one - 1);
        CPPUNIT_ASSERT(c.find("k999", 0));  // the newest stay, the oldest went
        CPPUNIT_ASSERT(!c.find("k0", 0));
        // One entry larger than a quarter of the cache is not kept at all.
        cmi::saml::ValidatedCache small(10000, 4 * cmi::saml::ValidatedCache::footprint("k", big) - 1);
        small.put("k", big, 100);
        CPPUNIT_ASSERT(!small.find("k", 0));
        // Expired entries give their bytes back.
        c.find("k999", 200);
        CPPUNIT_ASSERT(c.bytes() <= (1u << 20) - one);
    }

    void request_binding_is_checked_on_every_use() {
        cmi::saml::Identity id;
        id.has_conditions_expiry = true;
        id.conditions_expiry = 1000;
        id.confirmations.push_back({std::string("https://h/a"), 900, true});
        id.confirmations.push_back({std::nullopt, 800, true});
        cmi::saml::Policy p;
        p.now = 100;
        p.skew = 0;
        p.recipients = {"https://h/a"};
        CPPUNIT_ASSERT_EQUAL(std::string(), bind_to_request(id, p));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{900}, id.not_on_or_after);
        p.recipients = {"https://h/b"};
        CPPUNIT_ASSERT_EQUAL(std::string(), bind_to_request(id, p));  // the one without a Recipient
        CPPUNIT_ASSERT_EQUAL(std::int64_t{800}, id.not_on_or_after);
        p.recipient_required = true;
        CPPUNIT_ASSERT(bind_to_request(id, p).find("names no Recipient") != std::string::npos);
        p.recipients = {"https://h/a"};
        p.now = 950;  // that confirmation has expired since it was validated
        CPPUNIT_ASSERT(bind_to_request(id, p).find("expired") != std::string::npos);
        id.destination = "https://h/other";
        p.now = 100;
        CPPUNIT_ASSERT(bind_to_request(id, p).find("Destination") != std::string::npos);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SamlCacheTest);

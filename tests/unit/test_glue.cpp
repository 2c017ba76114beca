// The httpd glue every module shares: barriers, pool ownership, transaction
// ids across subrequests and redirects, and refusals.
#include "httpd/barrier.hpp"
#include "httpd/directive.hpp"
#include "httpd/httpd_version.hpp"
#include "httpd/pool_object.hpp"
#include "httpd/problem_response.hpp"
#include "httpd/transaction.hpp"
#include "httpd_stubs.hpp"
#include "libcmi/txid.hpp"

#include <cppunit/extensions/HelperMacros.h>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace {

module test_module = [] {
    module m{};
    m.name = "mod_cmi_test.cpp";
    m.module_index = 42;
    return m;
}();

struct Counted {
    int* counter;
    explicit Counted(int* c) : counter(c) {}
    ~Counted() { ++*counter; }
};

const char* handler(cmd_parms*, void*, const char* arg) { return arg; }

}  // namespace

class GlueTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(GlueTest);
    CPPUNIT_TEST(hook_barrier_passes_results);
    CPPUNIT_TEST(hook_barrier_turns_exceptions_into_500);
    CPPUNIT_TEST(filter_barrier_turns_exceptions_into_egeneral);
    CPPUNIT_TEST(directive_barrier_names_the_directive);
    CPPUNIT_TEST(pool_new_runs_destructor_at_pool_cleanup);
    CPPUNIT_TEST(transaction_id_shared_by_subrequests_and_redirects);
    CPPUNIT_TEST(transaction_id_differs_between_requests);
    CPPUNIT_TEST(refuse_prepares_problem_document);
    CPPUNIT_TEST(refuse_rejects_unknown_code);
    CPPUNIT_TEST(as_cmd_round_trips);
    CPPUNIT_TEST(tri_state_merge);
    CPPUNIT_TEST(httpd_2_4_64_or_later);
    CPPUNIT_TEST_SUITE_END();

    apr_pool_t* pool = nullptr;

    request_rec* make_request() {
        auto* r = static_cast<request_rec*>(apr_pcalloc(pool, sizeof(request_rec)));
        r->pool = pool;
        r->notes = apr_table_make(pool, 4);
        r->subprocess_env = apr_table_make(pool, 4);
        r->headers_out = apr_table_make(pool, 4);
        r->err_headers_out = apr_table_make(pool, 4);
        r->method = apr_pstrdup(pool, "PUT");
        r->uri = apr_pstrdup(pool, "/cmi/item");
        return r;
    }

public:
    void setUp() override {
        apr_initialize();
        apr_pool_create(&pool, nullptr);
        stubs::reset();
    }
    void tearDown() override {
        apr_pool_destroy(pool);
        apr_terminate();
    }

    void hook_barrier_passes_results() {
        request_rec* r = make_request();
        CPPUNIT_ASSERT_EQUAL(int(DECLINED), cmi::httpd::hook_barrier(r, test_module, "t", [] { return DECLINED; }));
        CPPUNIT_ASSERT(stubs::log_lines.empty());
    }

    void hook_barrier_turns_exceptions_into_500() {
        request_rec* r = make_request();
        apr_table_setn(r->notes, cmi::httpd::kTransactionIdKey, "tx-1");
        int status = cmi::httpd::hook_barrier(r, test_module, "fixups", []() -> int {
            throw std::runtime_error("boom");
        });
        CPPUNIT_ASSERT_EQUAL(int(HTTP_INTERNAL_SERVER_ERROR), status);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, stubs::log_lines.size());
        const auto& line = stubs::log_lines[0];
        CPPUNIT_ASSERT_EQUAL(42, line.module_index);
        CPPUNIT_ASSERT_EQUAL(int(APLOG_ERR), line.level);
        CPPUNIT_ASSERT(line.message.find("internal error in fixups: boom") != std::string::npos);
        CPPUNIT_ASSERT(line.message.find("tx-1") != std::string::npos);

        status = cmi::httpd::hook_barrier(r, test_module, "x", []() -> int { throw 7; });
        CPPUNIT_ASSERT_EQUAL(int(HTTP_INTERNAL_SERVER_ERROR), status);
        CPPUNIT_ASSERT(stubs::log_lines.back().message.find("unknown exception") != std::string::npos);
    }

    void filter_barrier_turns_exceptions_into_egeneral() {
        ap_filter_t f{};
        f.r = make_request();
        apr_status_t rv = cmi::httpd::filter_barrier(&f, test_module, "in", []() -> apr_status_t {
            throw std::bad_alloc();
        });
        CPPUNIT_ASSERT_EQUAL(apr_status_t{APR_EGENERAL}, rv);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, stubs::log_lines.size());
    }

    void directive_barrier_names_the_directive() {
        command_rec rec{};
        rec.name = "CMIExample";
        cmd_parms cmd{};
        cmd.pool = pool;
        cmd.cmd = &rec;
        const char* err = cmi::httpd::directive_barrier(&cmd, []() -> const char* {
            throw std::invalid_argument("'x' is not valid");
        });
        CPPUNIT_ASSERT_EQUAL(std::string("CMIExample: 'x' is not valid"), std::string(err));
        CPPUNIT_ASSERT(cmi::httpd::directive_barrier(&cmd, []() -> const char* { return nullptr; }) == nullptr);
    }

    void pool_new_runs_destructor_at_pool_cleanup() {
        int destroyed = 0;
        apr_pool_t* sub = nullptr;
        apr_pool_create(&sub, pool);
        Counted* c = cmi::httpd::pool_new<Counted>(sub, &destroyed);
        CPPUNIT_ASSERT(c->counter == &destroyed);
        CPPUNIT_ASSERT_EQUAL(0, destroyed);
        apr_pool_destroy(sub);
        CPPUNIT_ASSERT_EQUAL(1, destroyed);
    }

    void transaction_id_shared_by_subrequests_and_redirects() {
        request_rec* main_r = make_request();
        request_rec* sub = make_request();
        sub->main = main_r;
        request_rec* redirected = make_request();
        redirected->prev = main_r;
        request_rec* sub_of_redirect = make_request();
        sub_of_redirect->main = redirected;

        // The first module to ask may be on the subrequest: the id lands on the main request.
        const std::string id = cmi::httpd::transaction_id(sub_of_redirect);
        CPPUNIT_ASSERT(cmi::is_uuid_v7(id));
        CPPUNIT_ASSERT_EQUAL(id, std::string(cmi::httpd::transaction_id(main_r)));
        CPPUNIT_ASSERT_EQUAL(id, std::string(cmi::httpd::transaction_id(sub)));
        CPPUNIT_ASSERT_EQUAL(id, std::string(cmi::httpd::transaction_id(redirected)));
        for (request_rec* r : {main_r, sub, redirected, sub_of_redirect}) {
            CPPUNIT_ASSERT_EQUAL(id, std::string(apr_table_get(r->notes, "CMI_TRANSACTION_ID")));
            CPPUNIT_ASSERT_EQUAL(id, std::string(apr_table_get(r->subprocess_env, "CMI_TRANSACTION_ID")));
        }
    }

    void transaction_id_differs_between_requests() {
        const std::string a = cmi::httpd::transaction_id(make_request());
        const std::string b = cmi::httpd::transaction_id(make_request());
        CPPUNIT_ASSERT(a != b);
    }

    void refuse_prepares_problem_document() {
        request_rec* r = make_request();
        const int status = cmi::httpd::refuse(r, test_module, "tls-required", "Use \"TLS\".");
        CPPUNIT_ASSERT_EQUAL(403, status);
        CPPUNIT_ASSERT_EQUAL(403, stubs::custom_status);
        const auto doc = nlohmann::json::parse(stubs::custom_response);
        const std::string txid = apr_table_get(r->notes, "CMI_TRANSACTION_ID");
        CPPUNIT_ASSERT_EQUAL(std::string("tag:mod-cmi,2026:tls-required"), doc["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("Use \"TLS\"."), doc["detail"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(txid, doc["transaction_id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(txid, std::string(apr_table_get(r->err_headers_out, "CMI-Transaction-ID")));
        CPPUNIT_ASSERT_EQUAL(std::string("tls-required"), std::string(apr_table_get(r->notes, "CMI_REFUSAL")));
        CPPUNIT_ASSERT_EQUAL(std::string("tls-required"), std::string(apr_table_get(r->subprocess_env, "CMI_REFUSAL")));
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, stubs::log_lines.size());
        const auto& line = stubs::log_lines[0];
        CPPUNIT_ASSERT_EQUAL(int(APLOG_WARNING), line.level);
        CPPUNIT_ASSERT(line.message.find("tls-required (403)") != std::string::npos);
        CPPUNIT_ASSERT(line.message.find(txid) != std::string::npos);
    }

    void refuse_rejects_unknown_code() {
        CPPUNIT_ASSERT_THROW(cmi::httpd::refuse(make_request(), test_module, "nope", ""), std::invalid_argument);
    }

    void as_cmd_round_trips() {
        cmd_func f = cmi::httpd::as_cmd(handler);
        auto back = reinterpret_cast<const char* (*)(cmd_parms*, void*, const char*)>(
            reinterpret_cast<void (*)()>(f));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), std::string(back(nullptr, nullptr, "ok")));
    }

    void tri_state_merge() {
        using cmi::httpd::Tri;
        CPPUNIT_ASSERT(cmi::httpd::merge_tri(Tri::on, Tri::unset) == Tri::on);
        CPPUNIT_ASSERT(cmi::httpd::merge_tri(Tri::on, Tri::off) == Tri::off);
        CPPUNIT_ASSERT(cmi::httpd::merge_tri(Tri::unset, Tri::unset) == Tri::unset);
    }

    // CVE-2025-23048: mod_ssl before 2.4.64 (the modules refuse to start there).
    void httpd_2_4_64_or_later() {
        using cmi::httpd::httpd_version_supported;
        CPPUNIT_ASSERT(!httpd_version_supported(2, 4, 50));
        CPPUNIT_ASSERT(!httpd_version_supported(2, 4, 63));
        CPPUNIT_ASSERT(httpd_version_supported(2, 4, 64));
        CPPUNIT_ASSERT(httpd_version_supported(2, 4, 71));
        CPPUNIT_ASSERT(httpd_version_supported(2, 5, 0));
        CPPUNIT_ASSERT(httpd_version_supported(3, 0, 0));
        CPPUNIT_ASSERT(!httpd_version_supported(2, 2, 99));
        CPPUNIT_ASSERT(!httpd_version_supported(1, 9, 99));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(GlueTest);

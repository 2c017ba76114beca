#include "libcmi/audit_record.hpp"
#include "libcmi/sha256.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <cstdio>
#include <ctime>
#include <random>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

using cmi::audit::Record;

namespace {

Record sample() {
    Record r;
    r.seq = 7;
    r.node = "node-a";
    r.ev = "begin";
    r.txid = "0192f3c4-a1b2-7000-8000-000000000000";
    r.time_us = 1700000000123456;
    r.method = "PUT";
    r.uri = "/dav/x";
    r.prev = std::string(64, 'a');
    return r;
}

using cmi::audit::RecordView;

// A view of every field of `r` (whose strings it points into).
RecordView view_of(const Record& r) {
    auto sv = [](const std::optional<std::string>& v) -> RecordView::Str {
        if (!v) return std::nullopt;
        return std::string_view(*v);
    };
    RecordView v;
    v.node = r.node;
    v.ev = r.ev;
    v.txid = sv(r.txid);
    v.client_txid = sv(r.client_txid);
    v.op = sv(r.op);
    v.time_us = r.time_us;
    v.peer = sv(r.peer);
    if (r.tls) v.tls = RecordView::Tls{sv(r.tls->protocol), sv(r.tls->cipher), sv(r.tls->client_cert_sha256),
                                       sv(r.tls->client_dn)};
    if (r.auth) v.auth = RecordView::Auth{sv(r.auth->mech), sv(r.auth->user), sv(r.auth->issuer)};
    v.method = sv(r.method);
    v.uri = sv(r.uri);
    v.destination = sv(r.destination);
    v.content_type = sv(r.content_type);
    if (r.request) v.request = RecordView::Body{r.request->bytes, sv(r.request->digest)};
    if (r.validation) v.validation = RecordView::Validation{sv(r.validation->result), sv(r.validation->format),
                                                            sv(r.validation->signer), sv(r.validation->items)};
    v.status = r.status;
    v.refusal = sv(r.refusal);
    v.response_bytes = r.response_bytes;
    v.duration_us = r.duration_us;
    v.receipt = sv(r.receipt);
    if (r.evidence) v.evidence = &*r.evidence;
    return v;
}

// A begin record with every field of the request's description set, some hostile.
Record full_begin() {
    Record r = sample();
    r.client_txid = "client-1";
    r.op = "ContentUpload";
    r.peer = "127.0.0.1";
    r.tls = cmi::audit::TlsFacts{std::string("TLSv1.3"), std::string("TLS_AES_256_GCM_SHA384"),
                                 std::string(64, 'f'), std::string("CN=\"quoted\",O=\xc3\xa9t\xff\n")};
    r.auth = cmi::audit::AuthFacts{std::string("cert"), std::string("provider-a"), std::nullopt};
    r.uri = "/dav/\x01\"x\"\\y";
    r.destination = "/dav/z";
    r.content_type = "application/octet-stream";
    r.evidence = std::vector<cmi::audit::EvidenceFile>{{"cms", std::nullopt, std::string(64, 'e'), 42}};
    return r;
}

bool printable_ascii(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c > 0x7e) return false;
    return true;
}

}  // namespace

class AuditRecordTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AuditRecordTest);
    CPPUNIT_TEST(field_order_and_nulls);
    CPPUNIT_TEST(time_is_rfc3339_microseconds);
    CPPUNIT_TEST(hostile_strings_stay_on_one_ascii_line);
    CPPUNIT_TEST(invalid_utf8_is_replaced);
    CPPUNIT_TEST(nested_facts);
    CPPUNIT_TEST(evidence_files);
    CPPUNIT_TEST(rfc9530_digest);
    CPPUNIT_TEST(escaping_matches_nlohmann_on_random_bytes);
    CPPUNIT_TEST(a_view_serializes_as_its_record);
    CPPUNIT_TEST(end_record_with_the_begin_records_pieces);
    CPPUNIT_TEST_SUITE_END();

public:
    void field_order_and_nulls() {
        const std::string line = cmi::audit::serialize(sample());
        CPPUNIT_ASSERT_EQUAL(std::string("{\"v\":1,\"seq\":7,\"node\":\"node-a\",\"ev\":\"begin\",\"txid\":"),
                             line.substr(0, 51));
        const auto j = nlohmann::ordered_json::parse(line);
        const char* order[] = {"v", "seq", "node", "ev", "txid", "client_txid", "op", "time", "peer", "tls",
                               "auth", "method", "uri", "destination", "content_type", "request", "validation",
                               "status", "refusal", "response_bytes", "duration_us", "receipt", "evidence", "prev"};
        CPPUNIT_ASSERT_EQUAL(std::size_t{24}, j.size());
        std::size_t i = 0;
        for (auto it = j.begin(); it != j.end(); ++it, ++i) CPPUNIT_ASSERT_EQUAL(std::string(order[i]), it.key());
        CPPUNIT_ASSERT(j["status"].is_null() && j["tls"].is_null() && j["client_txid"].is_null());
    }

    void time_is_rfc3339_microseconds() {
        CPPUNIT_ASSERT_EQUAL(std::string("2023-11-14T22:13:20.123456Z"), cmi::audit::rfc3339_us(1700000000123456));
        CPPUNIT_ASSERT_EQUAL(std::string("1970-01-01T00:00:00.000001Z"), cmi::audit::rfc3339_us(1));
        CPPUNIT_ASSERT_EQUAL(std::string("1969-12-31T23:59:59.999999Z"), cmi::audit::rfc3339_us(-1));
        CPPUNIT_ASSERT_EQUAL(std::string("2000-02-29T12:00:00.000000Z"), cmi::audit::rfc3339_us(951825600000000));
        CPPUNIT_ASSERT_EQUAL(std::string("2100-03-01T00:00:00.000000Z"), cmi::audit::rfc3339_us(4107542400000000));
        // The second a thread formatted last is reused: the same second again,
        // another, a negative one, a year printf formats, and back.
        for (const auto& [us, want] : std::vector<std::pair<std::int64_t, std::string>>{
                 {1700000000000000, "2023-11-14T22:13:20.000000Z"}, {1700000000999999, "2023-11-14T22:13:20.999999Z"},
                 {1700000001000000, "2023-11-14T22:13:21.000000Z"}, {1700000000000007, "2023-11-14T22:13:20.000007Z"},
                 {-1000001, "1969-12-31T23:59:58.999999Z"}, {-1000000, "1969-12-31T23:59:59.000000Z"},
                 {-999999, "1969-12-31T23:59:59.000001Z"}, {253402300800000001, "10000-01-01T00:00:00.000001Z"},
                 {253402300800000002, "10000-01-01T00:00:00.000002Z"}, {1700000000123456, "2023-11-14T22:13:20.123456Z"}})
            CPPUNIT_ASSERT_EQUAL(want, cmi::audit::rfc3339_us(us));
        // The calendar arithmetic agrees with gmtime_r from 1900 to 2400, a day and a bit at a time.
        for (std::int64_t s = -2208988800LL; s < 13569465600LL; s += 86400 + 3607) {
            const std::time_t t = static_cast<std::time_t>(s);
            std::tm tm{};
            gmtime_r(&t, &tm);
            char want[64];
            std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.000042Z", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
            CPPUNIT_ASSERT_EQUAL(std::string(want), cmi::audit::rfc3339_us(s * 1000000 + 42));
        }
    }

    void hostile_strings_stay_on_one_ascii_line() {
        Record r = sample();
        static const char hostile[] = "/a\"b\\c\n{\"seq\":1}\r\x1b[31m\x7f\0end\xe2\x80\xae";
        r.uri = std::string(hostile, sizeof hostile - 1);
        r.tls = cmi::audit::TlsFacts{};
        r.tls->client_dn = "CN=\"evil\",O=\n";
        r.auth = cmi::audit::AuthFacts{};
        r.auth->user = "us\ter\x01";
        const std::string line = cmi::audit::serialize(r);
        CPPUNIT_ASSERT(printable_ascii(line));
        const auto j = nlohmann::json::parse(line);
        CPPUNIT_ASSERT_EQUAL(*r.uri, j["uri"].get<std::string>());  // round trip, bytes intact
        CPPUNIT_ASSERT_EQUAL(*r.tls->client_dn, j["tls"]["client_dn"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(*r.auth->user, j["auth"]["user"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{7}, j["seq"].get<std::uint64_t>());
    }

    // The hand-written writer escapes exactly as nlohmann's dump(ensure_ascii,
    // replace) did (the first format of the log): random bytes biased to UTF-8.
    void escaping_matches_nlohmann_on_random_bytes() {
        std::mt19937 rng(20261129);
        const unsigned char interesting[] = {0x00, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0x8f,
                                             0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0,
                                             0xf4, 0xf5, 0xff, 'a', '/', '{'};
        for (int n = 0; n < 20000; ++n) {
            std::string v;
            // Short strings, and (every fourth) long plain runs with a few
            // odd bytes: the scan for plain runs goes sixteen bytes at a time.
            const bool runs = n % 4 == 1;
            const int len = static_cast<int>(runs ? rng() % 70 : rng() % 12);
            for (int k = 0; k < len; ++k)
                v += static_cast<char>(runs && rng() % 10 ? 'a' + rng() % 26
                                       : rng() % 3    ? interesting[rng() % sizeof interesting]
                                                      : rng() % 256);
            if (n % 7 == 0) v += "\xf0\x9f\x98\x80\xe2\x80\xae\xc3\xa9";  // well-formed 4-, 3-, 2-byte
            Record r = sample();
            r.uri = v;
            const std::string ours = cmi::audit::serialize_fields(r);
            nlohmann::json j = v;
            const std::string ref = j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
            const std::string key = "\"uri\":";
            const auto at = ours.find(key);
            CPPUNIT_ASSERT(at != std::string::npos);
            CPPUNIT_ASSERT_EQUAL(ref, ours.substr(at + key.size(), ref.size()));
            CPPUNIT_ASSERT(ours.compare(at + key.size() + ref.size(), 15, ",\"destination\":") == 0);
        }
    }

    void invalid_utf8_is_replaced() {
        Record r = sample();
        r.uri = "/x\xff\xc3(y";
        const std::string line = cmi::audit::serialize(r);
        CPPUNIT_ASSERT(printable_ascii(line));
        const auto j = nlohmann::json::parse(line);
        CPPUNIT_ASSERT_EQUAL(std::string("/x\xef\xbf\xbd\xef\xbf\xbd(y"), j["uri"].get<std::string>());
    }

    void evidence_files() {
        Record r = sample();
        r.evidence = std::vector<cmi::audit::EvidenceFile>{
            {"http-signature-base", std::nullopt, std::string(64, 'b'), 312},
            {"http-signature", std::string("k\"1"), std::string(64, 'c'), 64}};
        const std::string line = cmi::audit::serialize(r);
        CPPUNIT_ASSERT(line.find(",\"evidence\":[{\"kind\":\"http-signature-base\",\"name\":null,\"sha256\":\"" +
                                 std::string(64, 'b') + "\",\"bytes\":312},{\"kind\":\"http-signature\",\"name\":\"k\\\"1\"") !=
                       std::string::npos);
        const auto j = nlohmann::json::parse(line);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, j["evidence"].size());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{64}, j["evidence"][1]["bytes"].get<std::uint64_t>());
        r.evidence.emplace();  // an empty list stays a list
        CPPUNIT_ASSERT(cmi::audit::serialize(r).find(",\"evidence\":[],") != std::string::npos);
    }

    void nested_facts() {
        Record r = sample();
        r.ev = "end";
        r.request = cmi::audit::RequestBody{5, std::string("sha-256=:abc=:")};
        r.validation = cmi::audit::ValidationFacts{std::string("valid"), std::string("cms"), std::nullopt,
                                                   std::string("1")};
        r.status = 201;
        r.response_bytes = 0;
        r.duration_us = 1234;
        const auto j = nlohmann::json::parse(cmi::audit::serialize(r));
        CPPUNIT_ASSERT_EQUAL(5, j["request"]["bytes"].get<int>());
        CPPUNIT_ASSERT_EQUAL(std::string("valid"), j["validation"]["result"].get<std::string>());
        CPPUNIT_ASSERT(j["validation"]["signer"].is_null());
        CPPUNIT_ASSERT_EQUAL(201, j["status"].get<int>());
        CPPUNIT_ASSERT_EQUAL(1234, j["duration_us"].get<int>());
    }

    void a_view_serializes_as_its_record() {
        Record r = full_begin();
        r.request = cmi::audit::RequestBody{5, std::string("sha-256=:abc=:")};
        r.status = 201;
        r.refusal = "x";
        r.response_bytes = 7;
        r.duration_us = 9;
        r.receipt = "rcpt";
        std::string out = "kept|";  // appended to
        cmi::audit::serialize_fields(view_of(r), out);
        CPPUNIT_ASSERT_EQUAL("kept|" + cmi::audit::serialize_fields(r), out);
        CPPUNIT_ASSERT_EQUAL(cmi::audit::serialize_fields(sample()), [] {
            std::string o;
            cmi::audit::serialize_fields(view_of(sample()), o);
            return o;
        }());
    }

    // The end record made with its begin record's serialized description is
    // byte for byte the one made from the same values.
    void end_record_with_the_begin_records_pieces() {
        const Record begin = full_begin();
        std::string begin_text = "prefix";
        cmi::audit::PieceSpans spans;
        cmi::audit::serialize_fields(view_of(begin), begin_text, &spans);
        CPPUNIT_ASSERT_EQUAL("prefix" + cmi::audit::serialize_fields(begin), begin_text);
        Record end = begin;
        end.ev = "end";
        end.time_us += 1500;
        end.auth = cmi::audit::AuthFacts{std::string("saml"), std::string("other"), std::string("idp")};
        end.status = 200;
        end.response_bytes = 1024;
        end.duration_us = 1500;
        end.evidence.reset();
        const RecordView::Pieces pieces = spans.in(begin_text);
        RecordView v;  // only what the description does not hold
        v.node = end.node;
        v.ev = end.ev;
        v.time_us = end.time_us;
        v.auth = RecordView::Auth{std::string_view(*end.auth->mech), std::string_view(*end.auth->user),
                                  std::string_view(*end.auth->issuer)};
        v.status = end.status;
        v.response_bytes = end.response_bytes;
        v.duration_us = end.duration_us;
        v.pieces = &pieces;
        std::string out;
        cmi::audit::serialize_fields(v, out);
        CPPUNIT_ASSERT_EQUAL(cmi::audit::serialize_fields(end), out);
        CPPUNIT_ASSERT(pieces.ids.substr(0, 8) == ",\"txid\":");
        CPPUNIT_ASSERT(pieces.connection.substr(0, 8) == ",\"peer\":");
        CPPUNIT_ASSERT(pieces.request_line.substr(0, 10) == ",\"method\":");
    }

    void rfc9530_digest() {
        cmi::Sha256 h;
        h.update("hello", 5);
        // echo -n hello | openssl dgst -sha256 -binary | base64
        CPPUNIT_ASSERT_EQUAL(std::string("sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:"),
                             cmi::rfc9530_sha256(h.finish()));
        CPPUNIT_ASSERT_EQUAL(std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
                             cmi::sha256_hex(""));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AuditRecordTest);

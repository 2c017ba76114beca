// The JSON record writers carry client-chosen text (URI, DN, user, client
// txid) into the audit log and receipts. Round trip: whatever a record holds,
// its line is one line of printable ASCII that parses back to the same values
// (invalid UTF-8 replaced), that the chain verifier accepts, and the receipt
// writers' canonical form and header value parse back the same way.
// fuzz-sources: libcmi/audit_record.cpp libcmi/audit_verify.cpp libcmi/audit_chain.cpp libcmi/sha256.cpp libcmi/signer.cpp libcmi/receipt.cpp libcmi/structured_field.cpp libcmi/base64.cpp libcmi/ossl.cpp
#include "libcmi/audit_chain.hpp"
#include "libcmi/audit_record.hpp"
#include "libcmi/audit_verify.hpp"
#include "libcmi/receipt.hpp"
#include "libcmi/sha256.hpp"
#include "fuzzed_input.hpp"
#include "utf8.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace {

using json = nlohmann::json;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

std::optional<std::string> maybe(fuzz::FuzzedInput& in) {
    if (!in.ConsumeBool()) return std::nullopt;
    return in.ConsumeRandomLengthString(300);
}

// A string member must read back as the input, or (input not UTF-8) as valid
// UTF-8 with the bad bytes replaced by U+FFFD.
void same(const json& j, const std::optional<std::string>& want) {
    if (!want) {
        check(j.is_null());
        return;
    }
    check(j.is_string());
    const auto got = j.get<std::string>();
    if (fuzz::valid_utf8(*want))
        check(got == *want);
    else
        check(fuzz::valid_utf8(got) && got.find("\xEF\xBF\xBD") != std::string::npos);
}

void records(fuzz::FuzzedInput& in) {
    cmi::audit::Record r;
    r.seq = 1;
    r.prev = std::string(cmi::audit::kGenesisPrev);
    r.node = in.ConsumeRandomLengthString(64);
    r.ev = in.PickValueInArray({"begin", "end", "recovered", "checkpoint"});
    r.txid = maybe(in);
    r.client_txid = maybe(in);
    r.op = maybe(in);
    r.time_us = in.ConsumeIntegralInRange<std::int64_t>(0, 253402300799999999);  // up to year 9999
    r.peer = maybe(in);
    if (in.ConsumeBool()) r.tls = cmi::audit::TlsFacts{maybe(in), maybe(in), maybe(in), maybe(in)};
    if (in.ConsumeBool()) r.auth = cmi::audit::AuthFacts{maybe(in), maybe(in), maybe(in)};
    r.method = maybe(in);
    r.uri = maybe(in);
    r.destination = maybe(in);
    r.content_type = maybe(in);
    if (in.ConsumeBool()) r.request = cmi::audit::RequestBody{in.ConsumeIntegral<std::uint64_t>(), maybe(in)};
    if (in.ConsumeBool()) r.validation = cmi::audit::ValidationFacts{maybe(in), maybe(in), maybe(in), maybe(in)};
    if (in.ConsumeBool()) r.status = in.ConsumeIntegral<int>();
    r.refusal = maybe(in);
    if (in.ConsumeBool()) r.response_bytes = in.ConsumeIntegral<std::uint64_t>();
    if (in.ConsumeBool()) r.duration_us = in.ConsumeIntegral<std::int64_t>();
    r.receipt = maybe(in);
    if (in.ConsumeBool()) {
        r.evidence.emplace();
        for (int n = in.ConsumeIntegralInRange(0, 3); n > 0; --n)
            r.evidence->push_back({in.ConsumeRandomLengthString(30), maybe(in), cmi::sha256_hex(in.ConsumeRandomLengthString(9)),
                                   in.ConsumeIntegral<std::uint64_t>()});
    }

    const std::string line = cmi::audit::serialize(r);
    check(line == cmi::audit::assemble_line(r.seq, cmi::audit::serialize_fields(r), r.prev));
    for (char c : line) check(c >= 0x20 && c <= 0x7e);  // one line, printable ASCII

    const json j = json::parse(line);
    check(j.is_object() && j["v"] == 1 && j["seq"] == 1 && j["prev"] == r.prev);
    same(j["node"], r.node);
    same(j["ev"], r.ev);
    same(j["txid"], r.txid);
    same(j["client_txid"], r.client_txid);
    same(j["op"], r.op);
    check(j["time"].get<std::string>() == cmi::audit::rfc3339_us(r.time_us) && j["time"].get<std::string>().size() == 27);
    same(j["peer"], r.peer);
    if (r.tls) {
        same(j["tls"]["protocol"], r.tls->protocol);
        same(j["tls"]["cipher"], r.tls->cipher);
        same(j["tls"]["client_cert_sha256"], r.tls->client_cert_sha256);
        same(j["tls"]["client_dn"], r.tls->client_dn);
    } else {
        check(j["tls"].is_null());
    }
    if (r.auth) {
        same(j["auth"]["mech"], r.auth->mech);
        same(j["auth"]["user"], r.auth->user);
        same(j["auth"]["issuer"], r.auth->issuer);
    } else {
        check(j["auth"].is_null());
    }
    same(j["method"], r.method);
    same(j["uri"], r.uri);
    same(j["destination"], r.destination);
    same(j["content_type"], r.content_type);
    if (r.request) {
        check(j["request"]["bytes"].get<std::uint64_t>() == r.request->bytes);
        same(j["request"]["digest"], r.request->digest);
    } else {
        check(j["request"].is_null());
    }
    if (r.validation) {
        same(j["validation"]["result"], r.validation->result);
        same(j["validation"]["format"], r.validation->format);
        same(j["validation"]["signer"], r.validation->signer);
        same(j["validation"]["items"], r.validation->items);
    } else {
        check(j["validation"].is_null());
    }
    check(r.status ? j["status"].get<int>() == *r.status : j["status"].is_null());
    same(j["refusal"], r.refusal);
    check(r.response_bytes ? j["response_bytes"].get<std::uint64_t>() == *r.response_bytes : j["response_bytes"].is_null());
    check(r.duration_us ? j["duration_us"].get<std::int64_t>() == *r.duration_us : j["duration_us"].is_null());
    same(j["receipt"], r.receipt);
    if (r.evidence) {
        check(j["evidence"].is_array() && j["evidence"].size() == r.evidence->size());
        for (std::size_t i = 0; i < r.evidence->size(); ++i) {
            const auto& e = (*r.evidence)[i];
            same(j["evidence"][i]["kind"], e.kind);
            same(j["evidence"][i]["name"], e.name);
            check(j["evidence"][i]["sha256"] == e.sha256 && j["evidence"][i]["bytes"].get<std::uint64_t>() == e.bytes);
        }
    } else {
        check(j["evidence"].is_null());
    }

    // What the writer writes, the reader reads.
    cmi::audit::ChainVerifier v;
    check(v.feed(line, true, "fuzz:1"));
    check(v.head().seq == 1 && v.head().hash == cmi::audit::line_hash(line + "\n"));
}

void receipts(fuzz::FuzzedInput& in) {
    cmi::audit::ReceiptFacts f;
    f.txid = in.ConsumeRandomLengthString(100);
    f.time = in.ConsumeRandomLengthString(40);
    f.user = maybe(in);
    f.method = maybe(in);
    f.uri = maybe(in);
    f.digest = maybe(in);
    f.status = in.ConsumeIntegral<int>();
    const std::string canon = cmi::audit::receipt_canonical(f);
    for (char c : canon) check(c >= 0x20 && c <= 0x7e);
    const json j = json::parse(canon);
    same(j["txid"], f.txid);
    same(j["time"], f.time);
    same(j["user"], f.user);
    same(j["method"], f.method);
    same(j["uri"], f.uri);
    same(j["digest"], f.digest);
    check(j["status"].get<int>() == f.status);
    check(cmi::audit::receipt_hash(f) == cmi::audit::receipt_hash(f));

    // The header value: the module's txids and key ids are UUIDs and hex, so
    // any such text survives format -> parse unchanged.
    auto token = [&in](std::size_t max) {
        static constexpr char kAlphabet[] = "0123456789abcdefABCDEF-";
        std::string t = in.ConsumeRandomLengthString(max);
        for (char& c : t) c = kAlphabet[static_cast<unsigned char>(c) % (sizeof kAlphabet - 1)];
        return t;
    };
    cmi::audit::Receipt rc;
    rc.txid = token(64);
    const auto h = cmi::audit::receipt_hash(f);
    rc.hash.assign(h.begin(), h.end());
    const std::string sig = in.ConsumeRandomLengthString(80);
    rc.sig.assign(sig.begin(), sig.end());
    rc.keyid = token(64);
    rc.seq = in.ConsumeIntegralInRange<std::uint64_t>(1, 999999999999999);  // RFC 8941: 15 digits
    rc.begin = cmi::sha256_hex(sig);
    const std::string value = cmi::audit::format_receipt(rc);
    for (char c : value) check(c >= 0x20 && c <= 0x7e);
    const auto back = cmi::audit::parse_receipt(value);
    check(back.has_value());
    check(back->txid == rc.txid && back->keyid == rc.keyid && back->hash == rc.hash && back->sig == rc.sig);
    check(back->seq == rc.seq && back->begin == rc.begin);
    check(cmi::audit::receipt_message(*back) == cmi::audit::receipt_message(rc));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::FuzzedInput in(data, size);
    if (in.ConsumeBool())
        records(in);
    else
        receipts(in);
    return 0;
}

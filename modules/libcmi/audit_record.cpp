#include "libcmi/audit_record.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>

namespace cmi::audit {
namespace {

using json = nlohmann::ordered_json;

template <class T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

json tls_json(const std::optional<TlsFacts>& t) {
    if (!t) return nullptr;
    return json{{"protocol", opt(t->protocol)},
                {"cipher", opt(t->cipher)},
                {"client_cert_sha256", opt(t->client_cert_sha256)},
                {"client_dn", opt(t->client_dn)}};
}

json auth_json(const std::optional<AuthFacts>& a) {
    if (!a) return nullptr;
    return json{{"mech", opt(a->mech)}, {"user", opt(a->user)}, {"issuer", opt(a->issuer)}};
}

json request_json(const std::optional<RequestBody>& b) {
    if (!b) return nullptr;
    return json{{"bytes", b->bytes}, {"digest", opt(b->digest)}};
}

json validation_json(const std::optional<ValidationFacts>& v) {
    if (!v) return nullptr;
    return json{{"result", opt(v->result)},
                {"format", opt(v->format)},
                {"signer", opt(v->signer)},
                {"items", opt(v->items)}};
}

}  // namespace

std::string serialize(const Record& rec) { return assemble_line(rec.seq, serialize_fields(rec), rec.prev); }

std::string assemble_line(std::uint64_t seq, const std::string& fields, const std::string& prev) {
    std::string line;
    line.reserve(fields.size() + prev.size() + 48);
    line += "{\"v\":";
    line += std::to_string(kRecordVersion);
    line += ",\"seq\":";
    line += std::to_string(seq);
    line += ',';
    line += fields;
    line += ",\"prev\":\"";
    line += prev;  // hex: nothing to escape
    line += "\"}";
    return line;
}

std::string serialize_fields(const Record& rec) {
    json j;
    j["node"] = rec.node;
    j["ev"] = rec.ev;
    j["txid"] = opt(rec.txid);
    j["client_txid"] = opt(rec.client_txid);
    j["op"] = opt(rec.op);
    j["time"] = rfc3339_us(rec.time_us);
    j["peer"] = opt(rec.peer);
    j["tls"] = tls_json(rec.tls);
    j["auth"] = auth_json(rec.auth);
    j["method"] = opt(rec.method);
    j["uri"] = opt(rec.uri);
    j["content_type"] = opt(rec.content_type);
    j["request"] = request_json(rec.request);
    j["validation"] = validation_json(rec.validation);
    j["status"] = opt(rec.status);
    j["response_bytes"] = opt(rec.response_bytes);
    j["duration_us"] = opt(rec.duration_us);
    j["receipt"] = opt(rec.receipt);
    if (rec.checkpoint)
        j["checkpoint"] =
            json{{"alg", rec.checkpoint->alg}, {"keyid", rec.checkpoint->keyid}, {"sig", rec.checkpoint->sig}};
    if (rec.recovered) j["recovered"] = json{{"bytes", rec.recovered->bytes}, {"sha256", rec.recovered->sha256}};
    std::string out = j.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
    return out.substr(1, out.size() - 2);  // the members, without the braces
}

std::string rfc3339_us(std::int64_t unix_us) {
    std::int64_t secs = unix_us / 1000000;
    std::int64_t micros = unix_us % 1000000;
    if (micros < 0) {
        micros += 1000000;
        --secs;
    }
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[80];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(micros));
    return buf;
}

}  // namespace cmi::audit

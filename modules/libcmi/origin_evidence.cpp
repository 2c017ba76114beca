#include "libcmi/origin_evidence.hpp"

#include "libcmi/base64.hpp"
#include "libcmi/sha256.hpp"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace cmi::audit {
namespace {

using json = nlohmann::ordered_json;

std::string redaction(std::string_view value) {
    Sha256 h;
    h.update(value);
    return "[redacted: " + rfc9530_sha256(h.finish()) + "]";
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool is_credential(const std::string& name) {
    return name == "authorization" || name == "proxy-authorization" || name == "cookie";
}

bool carries_query(const std::string& name) {
    return name == "@query" || name == "@query-param" || name == "@target-uri" || name == "@request-target";
}

// One line of a base: "name"[;params]: value
std::string redact_line(std::string_view line, bool& redacted) {
    if (line.size() < 2 || line[0] != '"') return std::string(line);
    const auto close = line.find('"', 1);
    if (close == std::string_view::npos) return std::string(line);
    const std::string name = lower(line.substr(1, close - 1));
    if (!is_credential(name) && !carries_query(name)) return std::string(line);
    const auto sep = line.find(": ", close);
    if (sep == std::string_view::npos) {  // not the form we write: keep nothing of it
        redacted = true;
        return std::string(line.substr(0, close + 1)) + ": " + redaction(line);
    }
    const std::string_view head = line.substr(0, sep + 2), value = line.substr(sep + 2);
    if (is_credential(name) || name == "@query" || name == "@query-param") {
        redacted = true;
        return std::string(head) + redaction(value);
    }
    const auto q = value.find('?');  // @target-uri, @request-target: the path stays
    if (q == std::string_view::npos) return std::string(line);
    redacted = true;
    return std::string(head) + std::string(value.substr(0, q)) + "?" + redaction(value.substr(q + 1));
}

std::string text(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) throw std::invalid_argument(key);
    return it->get<std::string>();
}

}  // namespace

std::string redact_signature_base(std::string_view base, bool& redacted) {
    redacted = false;
    std::string out;
    out.reserve(base.size());
    while (!base.empty()) {
        const auto nl = base.find('\n');
        out += redact_line(base.substr(0, nl), redacted);
        if (nl == std::string_view::npos) break;
        out += '\n';
        base.remove_prefix(nl + 1);
    }
    return out;
}

std::string public_key_der(EVP_PKEY* key) {
    std::string der = ossl::to_der(i2d_PUBKEY, key);
    if (der.empty()) throw std::runtime_error("cannot encode the public key");
    return der;
}

std::string format_items_note(const std::vector<ItemSignature>& items) {
    json list = json::array();
    for (const auto& i : items) list.push_back({{"id", i.id}, {"location", i.location}, {"cms", base64_encode(i.cms)}});
    return list.dump(-1, ' ', true, json::error_handler_t::replace);
}

std::optional<std::vector<ItemSignature>> parse_items_note(std::string_view note) {
    const auto j = json::parse(note.begin(), note.end(), nullptr, false);
    if (j.is_discarded() || !j.is_array()) return std::nullopt;
    std::vector<ItemSignature> out;
    try {
        for (const auto& e : j) {
            auto der = base64_decode(text(e, "cms"));
            if (!der || der->empty()) return std::nullopt;
            out.push_back({text(e, "id"), text(e, "location"), std::move(*der)});
        }
    } catch (const std::exception&) {
        return std::nullopt;
    }
    return out;
}

std::string format_items_index(const std::vector<IndexedItem>& items) {
    json list = json::array();
    for (const auto& i : items)
        list.push_back({{"id", i.id}, {"location", i.location}, {"sha256", i.sha256}, {"bytes", i.bytes}});
    json doc;
    doc["items"] = std::move(list);
    return doc.dump(-1, ' ', true, json::error_handler_t::replace) + "\n";
}

std::optional<std::vector<IndexedItem>> parse_items_index(std::string_view text_) {
    const auto j = json::parse(text_.begin(), text_.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("items") || !j["items"].is_array()) return std::nullopt;
    std::vector<IndexedItem> out;
    try {
        for (const auto& e : j["items"]) {
            if (!e.contains("bytes") || !e["bytes"].is_number_unsigned()) return std::nullopt;
            out.push_back({text(e, "id"), text(e, "location"), text(e, "sha256"), e["bytes"].get<std::uint64_t>()});
        }
    } catch (const std::exception&) {
        return std::nullopt;
    }
    return out;
}

}  // namespace cmi::audit

#include "libcmi/http_signature.hpp"

#include "libcmi/structured_field.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string_view>

namespace cmi::httpsig {
namespace {

[[noreturn]] void malformed(const std::string& why) { throw ValidationError("signature-malformed", why); }

struct AlgName {
    Alg alg;
    const char* name;
};
constexpr AlgName kAlgs[] = {
    {Alg::ed25519, "ed25519"},
    {Alg::ecdsa_p256_sha256, "ecdsa-p256-sha256"},
    {Alg::ecdsa_p384_sha384, "ecdsa-p384-sha384"},
    {Alg::rsa_pss_sha512, "rsa-pss-sha512"},
    {Alg::rsa_v1_5_sha256, "rsa-v1_5-sha256"},
};

const std::string* string_param(const sf::Parameters& p, const char* key) {
    const sf::BareItem* v = sf::find(p, key);
    if (!v) return nullptr;
    const auto* s = std::get_if<sf::String>(v);
    if (!s) malformed(std::string("Signature-Input parameter '") + key + "' must be a string");
    return &s->value;
}

std::optional<int64_t> int_param(const sf::Parameters& p, const char* key) {
    const sf::BareItem* v = sf::find(p, key);
    if (!v) return std::nullopt;
    const auto* i = std::get_if<int64_t>(v);
    if (!i) malformed(std::string("Signature-Input parameter '") + key + "' must be an integer");
    return *i;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return {};
    const size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

std::string component_value(const std::string& id, const Request& rq) {
    const std::string path = rq.path.empty() ? "/" : rq.path;
    const std::string query = rq.has_query ? "?" + rq.query : "";
    if (id == "@method") return rq.method;
    if (id == "@scheme") return lower(rq.scheme);
    if (id == "@authority") return lower(rq.authority);
    if (id == "@target-uri") return lower(rq.scheme) + "://" + lower(rq.authority) + path + query;
    if (id == "@request-target") return path + query;
    if (id == "@path") return path;
    if (id == "@query") return rq.has_query ? query : "?";
    if (id[0] == '@') malformed("covered component " + id + " is not supported");
    const auto v = rq.field ? rq.field(id) : std::nullopt;
    if (!v) malformed("covered header field '" + id + "' is not in the request");
    return trim(*v);
}

}  // namespace

std::optional<Alg> alg_from_name(std::string_view name) {
    for (const auto& a : kAlgs)
        if (name == a.name) return a.alg;
    return std::nullopt;
}

const char* alg_name(Alg alg) {
    for (const auto& a : kAlgs)
        if (a.alg == alg) return a.name;
    return "?";
}

Signature parse_signature_fields(std::string_view signature_input, std::string_view signature) {
    sf::Dictionary inputs, sigs;
    try {
        inputs = sf::parse_dictionary(signature_input);
        sigs = sf::parse_dictionary(signature);
    } catch (const sf::ParseError& e) {
        malformed(std::string("Signature-Input/Signature are not structured-field dictionaries: ") + e.what());
    }
    // Labels looked up through an index: a scan of Signature per Signature-Input
    // label would be quadratic in what a client sends.
    std::map<std::string_view, const sf::Member*> sig_by_label;
    for (const auto& [label, member] : sigs) sig_by_label.emplace(label, &member);
    for (const auto& [label, member] : inputs) {
        const auto found = sig_by_label.find(label);
        if (found == sig_by_label.end()) continue;
        const sf::Member* sig = found->second;
        const auto* list = std::get_if<sf::InnerList>(&member);
        if (!list) malformed("Signature-Input '" + label + "' is not an inner list of components");
        const auto* sig_item = std::get_if<sf::Item>(sig);
        const auto* bytes = sig_item ? std::get_if<sf::ByteSeq>(&sig_item->value) : nullptr;
        if (!bytes) malformed("Signature '" + label + "' is not a byte sequence");

        Signature out;
        out.value = bytes->value;
        Params& p = out.params;
        p.label = label;
        std::set<std::string_view> covered;  // the duplicate check, in O(n log n)
        for (const sf::Item& c : list->items) {
            const auto* id = std::get_if<sf::String>(&c.value);
            if (!id || id->value.empty()) malformed("a covered component identifier must be a non-empty string");
            if (!c.params.empty()) malformed("component parameters (\"" + id->value + "\";...) are not supported");
            if (id->value != lower(id->value)) malformed("component identifiers must be lower case");
            if (!covered.insert(id->value).second) malformed("component \"" + id->value + "\" is covered twice");
            p.components.push_back(id->value);
        }
        const std::string* keyid = string_param(list->params, "keyid");
        if (!keyid) malformed("Signature-Input '" + label + "' has no keyid");
        p.keyid = *keyid;
        if (const std::string* alg = string_param(list->params, "alg")) {
            p.alg = alg_from_name(*alg);
            if (!p.alg) malformed("signature algorithm '" + *alg + "' is not accepted");
        }
        p.created = int_param(list->params, "created");
        p.expires = int_param(list->params, "expires");
        if (const std::string* nonce = string_param(list->params, "nonce")) p.nonce = *nonce;
        p.serialized = sf::serialize(*list);
        return out;
    }
    malformed("no Signature-Input label has a matching Signature");
}

std::string signature_base(const Params& params, const Request& request) {
    std::string base;
    for (const std::string& id : params.components) {
        const std::string v = component_value(id, request);
        if (v.find_first_of("\r\n") != std::string::npos) malformed("component " + id + " contains a line break");
        base += "\"" + id + "\": " + v + "\n";
    }
    return base + "\"@signature-params\": " + params.serialized;
}

void check_times(const Params& p, std::time_t now, long skew, long max_age) {
    if (!p.created) malformed("Signature-Input has no created parameter");
    if (*p.created > now + skew) throw ValidationError("signature-invalid", "the signature was created in the future");
    if (p.expires && *p.expires + skew < now) throw ValidationError("signature-invalid", "the signature has expired");
    if (max_age > 0 && *p.created + max_age + skew < now)
        throw ValidationError("signature-invalid", "the signature is too old (created more than " +
                                                       std::to_string(max_age) + " s ago)");
}

void require_component(const Params& p, const std::string& component) {
    if (std::find(p.components.begin(), p.components.end(), component) == p.components.end())
        malformed("the signature must cover \"" + component + "\"");
}

void require_target(const Params& p, bool several_hosts) {
    auto covers = [&p](const char* c) { return std::find(p.components.begin(), p.components.end(), c) != p.components.end(); };
    if (covers("@target-uri")) return;
    const bool path = covers("@path") || covers("@request-target");
    if (path && (!several_hosts || covers("@authority"))) return;
    if (path)
        malformed("the signature must cover \"@authority\" with \"@path\" (this server answers for several host "
                  "names), or cover \"@target-uri\"");
    malformed(std::string("the signature must cover the request's target: \"@target-uri\", or \"@path\"") +
              (several_hosts ? " with \"@authority\"" : ""));
}

bool valid_keyid(std::string_view keyid) {
    if (keyid.empty() || keyid.size() > 128 || !std::isalnum(static_cast<unsigned char>(keyid[0]))) return false;
    for (char c : keyid)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
    return true;
}

}  // namespace cmi::httpsig

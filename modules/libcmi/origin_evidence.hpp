// Evidence of origin (issue 15.3), httpd-free: what mod_cmi_content hands to
// mod_cmi_audit in request notes, and the forms it is kept in.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;

namespace cmi::audit {

// The RFC 9421 signature base as it may be kept: never a credential. The
// values of the components authorization, proxy-authorization and cookie,
// and the query of @query, @query-param, @target-uri and @request-target
// (a query may carry tokens; the log never keeps one), are replaced by
//   [redacted: sha-256=:BASE64:]
// (the SHA-256 of the value left out). `redacted` says whether any was.
std::string redact_signature_base(std::string_view base, bool& redacted);

// DER SubjectPublicKeyInfo of a key. Throws std::runtime_error.
std::string public_key_der(evp_pkey_st* key);

// One manifest item's detached CMS signature (its SignedHash).
struct ItemSignature {
    std::string id, location;
    std::string cms;  // DER
};

// The CMI_EVIDENCE_ITEMS note: [{"id","location","cms":"<base64 DER>"},…].
std::string format_items_note(const std::vector<ItemSignature>& items);
// nullopt when `note` is not that form.
std::optional<std::vector<ItemSignature>> parse_items_note(std::string_view note);

// The manifest-items file of the evidence store: one line of JSON,
//   {"items":[{"id":…,"location":…,"sha256":"<hex of the item's .p7s>","bytes":N},…]}
struct IndexedItem {
    std::string id, location, sha256;
    std::uint64_t bytes = 0;
};
std::string format_items_index(const std::vector<IndexedItem>& items);
std::optional<std::vector<IndexedItem>> parse_items_index(std::string_view text);

}  // namespace cmi::audit

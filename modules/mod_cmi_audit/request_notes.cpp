#include "mod_cmi_audit/request_notes.hpp"

#include "httpd/notes.hpp"
#include "httpd/request_chain.hpp"
#include "mod_cmi_audit/request_ids.hpp"

#include <cstring>
#include <string_view>
#include <strings.h>

namespace cmi::audit {
namespace {

struct Key {
    const char* name;
    std::size_t len;
    const char* RecordNotes::*field;
};

constexpr Key key(const char* name, const char* RecordNotes::*field) {
    return Key{name, std::char_traits<char>::length(name), field};
}

constexpr Key kKeys[] = {
    key(httpd::kUserKey, &RecordNotes::user),
    key(httpd::kAuthMechKey, &RecordNotes::auth_mech),
    key(httpd::kAuthIssuerKey, &RecordNotes::auth_issuer),
    key(httpd::kContentValidationKey, &RecordNotes::validation),
    key(httpd::kContentFormatKey, &RecordNotes::format),
    key(httpd::kContentSignerKey, &RecordNotes::signer),
    key(httpd::kContentItemsKey, &RecordNotes::items),
    key(httpd::kRefusalKey, &RecordNotes::refusal),
    key(kClientTxidNote, &RecordNotes::client_txid),
};
constexpr std::string_view kPrefix = "CMI_";  // every key above starts with it

}  // namespace

RecordNotes record_notes(const request_rec* r) {
    RecordNotes n;
    constexpr std::string_view evidence = httpd::kEvidencePrefix;
    for (const request_rec* q = r; q; q = httpd::earlier_request(q)) {
        const apr_array_header_t* arr = apr_table_elts(q->notes);
        const auto* e = reinterpret_cast<const apr_table_entry_t*>(arr->elts);
        for (int i = 0; i < arr->nelts; ++i) {
            const char* k = e[i].key;
            if (!k || (k[0] != 'C' && k[0] != 'c') || strncasecmp(k, kPrefix.data(), kPrefix.size()) != 0) continue;
            const std::size_t len = std::strlen(k);
            // The letter after the prefix tells most keys apart (our own
            // CMI_TRANSACTION_ID is in every request) before a full compare.
            const int after = apr_tolower(k[kPrefix.size()]);
            if (after == 'e' && !strncasecmp(k, evidence.data(), evidence.size())) n.evidence = true;
            for (const Key& want : kKeys) {
                // Only the first note of that name counts (apr_table_get's).
                if (want.len == len && apr_tolower(want.name[kPrefix.size()]) == after && !(n.*want.field) &&
                    !strcasecmp(k, want.name)) {
                    n.*want.field = e[i].val;
                    break;
                }
            }
        }
    }
    return n;
}

}  // namespace cmi::audit

#include "libcmi/reserved_names.hpp"

#include <cstddef>

namespace cmi {
namespace {

// Our names, normalised (lower case, letters and digits only). Every key in
// modules/httpd/notes.hpp that a module publishes to r->subprocess_env or
// r->headers_in belongs here.
constexpr std::string_view kReserved[] = {
    "cmitransactionid",                                                   // CMI_TRANSACTION_ID, CMI-Transaction-ID
    "cmirefusal",                                                         // CMI_REFUSAL
    "cmiuser",          "cmiauthmech",        "cmiauthissuer",            // mod_cmi_auth
    "cmisamlnameid",    "cmisamlassertionid",                             // mod_cmi_auth, SAML
    "cmicontentvalidation", "cmicontentformat", "cmicontentdigest",       // mod_cmi_content
    "cmicontentsigner", "cmicontentitems",    "cmicontentitemsfile",
};
constexpr std::string_view kReservedPrefix = "cmisamlattr";  // CMI_SAML_ATTR_<name>

// Longest normalised name we compare in full; beyond the prefix only its start matters.
constexpr size_t kMaxCompared = 32;

char folded(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return c;
    return '\0';  // dropped
}

}  // namespace

bool is_reserved_header_name(std::string_view header_name) noexcept {
    // Every name of ours starts with "cmi": most headers are told apart by
    // their first letters or digits.
    std::size_t at = 0;
    for (const char want : {'c', 'm', 'i'}) {
        char f = '\0';
        while (at < header_name.size() && !(f = folded(header_name[at]))) ++at;
        if (f != want) return false;
        ++at;
    }
    char buf[kMaxCompared + 1];
    size_t n = 0;
    for (char c : header_name) {
        const char f = folded(c);
        if (!f) continue;
        if (n == kMaxCompared) {  // longer than any of ours: only the prefix can match
            return std::string_view(buf, n).substr(0, kReservedPrefix.size()) == kReservedPrefix;
        }
        buf[n++] = f;
    }
    const std::string_view name(buf, n);
    for (std::string_view r : kReserved)
        if (name == r) return true;
    return name.size() > kReservedPrefix.size() && name.substr(0, kReservedPrefix.size()) == kReservedPrefix;
}

}  // namespace cmi

#include "libcmi/content_digest.hpp"

#include "libcmi/structured_field.hpp"

#include <algorithm>

namespace cmi {

ClaimedDigest parse_content_digest(std::string_view field, const std::vector<DigestAlg>& accepted) {
    sf::Dictionary dict;
    try {
        dict = sf::parse_dictionary(field);
    } catch (const sf::ParseError& e) {
        throw ContentDigestError(std::string("Content-Digest is not a structured-field dictionary: ") + e.what());
    }
    const ClaimedDigest* best = nullptr;
    ClaimedDigest found[2];
    size_t n = 0;
    std::string refused;
    for (const auto& [name, member] : dict) {
        const auto* item = std::get_if<sf::Item>(&member);
        const auto* bytes = item ? std::get_if<sf::ByteSeq>(&item->value) : nullptr;
        if (!bytes) throw ContentDigestError("Content-Digest member '" + name + "' is not a byte sequence");
        const auto alg = digest_alg_from_name(name);
        if (!alg || std::find(accepted.begin(), accepted.end(), *alg) == accepted.end()) {
            refused += (refused.empty() ? "" : ", ") + name;
            continue;
        }
        if (bytes->value.size() != digest_alg_size(*alg))
            throw ContentDigestError("Content-Digest member '" + name + "' has the wrong length");
        if (n < 2) found[n++] = ClaimedDigest{*alg, bytes->value};
    }
    for (size_t i = 0; i < n; ++i)
        if (!best || digest_alg_size(found[i].alg) > digest_alg_size(best->alg)) best = &found[i];
    if (!best)
        throw ContentDigestError("Content-Digest has no accepted algorithm" +
                                 (refused.empty() ? std::string() : " (got: " + refused + ")"));
    return *best;
}

}  // namespace cmi

// RFC 8941 fields come straight from clients (Content-Digest, Signature-Input).
// Whatever parses must serialise, and the serialisation must parse back to itself.
// The repeated-key rule (§4.2.2, §4.2.3.2: first position, last value) holds at any
// size: parsed keys are unique, and appending a repeat of a parsed key changes that
// member's value in place and nothing else. Inputs go up to 16 KB and the seeds
// include hundreds of members (large containers are collapsed by sorting, small
// ones by a scan: both paths are reached).
// fuzz-sources: libcmi/structured_field.cpp libcmi/base64.cpp
// fuzz-options: -max_len=16384
#include "libcmi/structured_field.hpp"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace sf = cmi::sf;

template <class V>
static void unique_keys(const std::vector<std::pair<std::string, V>>& kv) {
    std::set<std::string_view> seen;
    for (const auto& [k, v] : kv)
        if (!seen.insert(k).second) __builtin_trap();
}

static void unique_keys_in(const sf::Item& it) { unique_keys(it.params); }
static void unique_keys_in(const sf::InnerList& l) {
    unique_keys(l.params);
    for (const auto& it : l.items) unique_keys_in(it);
}
static void unique_keys_in(const sf::Member& m) {
    std::visit([](const auto& x) { unique_keys_in(x); }, m);
}
static void unique_keys_in(const sf::List& l) {
    for (const auto& m : l) unique_keys_in(m);
}
static void unique_keys_in(const sf::Dictionary& d) {
    unique_keys(d);
    for (const auto& [k, m] : d) unique_keys_in(m);
}

template <class Parse>
static void round_trip(std::string_view in, Parse parse) {
    try {
        const auto v = parse(in);
        unique_keys_in(v);
        const std::string once = sf::serialize(v);
        const std::string twice = sf::serialize(parse(once));
        if (once != twice) __builtin_trap();
    } catch (const sf::ParseError&) {
    } catch (const std::invalid_argument&) {
        // a parsed value that cannot be serialised (e.g. an empty list) is fine
    }
}

// Appending "<key>=?0" for the middle member's key: same size, same order, that
// member now ?0.
static void repeat_a_key(std::string_view in) {
    sf::Dictionary d;
    try {
        d = sf::parse_dictionary(in);
    } catch (const sf::ParseError&) {
        return;
    }
    if (d.empty()) return;
    const size_t i = d.size() / 2;
    const sf::Dictionary again = sf::parse_dictionary(std::string(in) + ", " + d[i].first + "=?0");
    if (again.size() != d.size()) __builtin_trap();
    for (size_t j = 0; j < d.size(); ++j)
        if (again[j].first != d[j].first) __builtin_trap();
    const auto* item = std::get_if<sf::Item>(&again[i].second);
    if (!item || !item->params.empty() || !(item->value == sf::BareItem(false))) __builtin_trap();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    round_trip(in, [](std::string_view s) { return sf::parse_item(s); });
    round_trip(in, [](std::string_view s) { return sf::parse_list(s); });
    round_trip(in, [](std::string_view s) { return sf::parse_dictionary(s); });
    repeat_a_key(in);
    return 0;
}

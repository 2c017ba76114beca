// RFC 8941 Structured Field Values for HTTP: parsing (strict, per §4.2) and
// serialisation (§4.1). Lists, dictionaries and parameters keep their order;
// a repeated key keeps its first position and takes the last value (§4.2.2).
// Parsing costs O(n log n) in the number of members and parameters, whatever
// the keys: fields come from clients and may be hundreds of KB.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cmi::sf {

struct ParseError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Token {
    std::string value;
    bool operator==(const Token& o) const { return value == o.value; }
};
struct String {
    std::string value;
    bool operator==(const String& o) const { return value == o.value; }
};
struct ByteSeq {
    std::string value;  // the decoded bytes
    bool operator==(const ByteSeq& o) const { return value == o.value; }
};
// RFC 9651 §3.3.8 Display String: Unicode text (UTF-8 here). Serialised
// only; the parser stays strictly RFC 8941.
struct DisplayString {
    std::string value;
    bool operator==(const DisplayString& o) const { return value == o.value; }
};
// A decimal as an integer number of thousandths (RFC 8941 allows 3 fraction digits).
struct Decimal {
    int64_t thousandths = 0;
    bool operator==(const Decimal& o) const { return thousandths == o.thousandths; }
};

using BareItem = std::variant<int64_t, Decimal, String, Token, ByteSeq, bool, DisplayString>;
using Parameters = std::vector<std::pair<std::string, BareItem>>;

struct Item {
    BareItem value;
    Parameters params;
};
struct InnerList {
    std::vector<Item> items;
    Parameters params;
};
using Member = std::variant<Item, InnerList>;
using List = std::vector<Member>;
using Dictionary = std::vector<std::pair<std::string, Member>>;

// Parse a whole field value; throw ParseError on any deviation from RFC 8941.
Item parse_item(std::string_view input);
List parse_list(std::string_view input);
Dictionary parse_dictionary(std::string_view input);

std::string serialize(const BareItem& v);
std::string serialize(const Parameters& p);
std::string serialize(const Item& item);
std::string serialize(const InnerList& list);
std::string serialize(const Member& m);
std::string serialize(const List& list);
std::string serialize(const Dictionary& dict);

// Lookups: nullptr when absent. A linear scan: fine for a fixed number of keys;
// index the container to look up one key per member of another field.
const BareItem* find(const Parameters& p, std::string_view key);
const Member* find(const Dictionary& d, std::string_view key);

}  // namespace cmi::sf

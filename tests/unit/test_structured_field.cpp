#include "libcmi/structured_field.hpp"

#include <cppunit/extensions/HelperMacros.h>

using namespace cmi::sf;

namespace {
const Item& item_of(const Member& m) { return std::get<Item>(m); }
const InnerList& inner_of(const Member& m) { return std::get<InnerList>(m); }

// Each of `inputs` must make `parse` throw ParseError.
template <std::size_t N, class Parse>
void refused(const char* const (&inputs)[N], Parse parse, const char* what) {
    for (const char* s : inputs) {
        try {
            parse(s);
            CPPUNIT_FAIL(std::string(what) + " accepted: " + s);
        } catch (const ParseError&) {
        }
    }
}
}  // namespace

class StructuredFieldTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StructuredFieldTest);
    CPPUNIT_TEST(rfc_list_examples);
    CPPUNIT_TEST(rfc_inner_list_examples);
    CPPUNIT_TEST(rfc_parameter_example);
    CPPUNIT_TEST(rfc_dictionary_examples);
    CPPUNIT_TEST(rfc_item_examples);
    CPPUNIT_TEST(numbers);
    CPPUNIT_TEST(strings_and_tokens);
    CPPUNIT_TEST(byte_sequences);
    CPPUNIT_TEST(duplicate_keys_take_last_value_first_position);
    CPPUNIT_TEST(twenty_thousand_members_and_parameters);
    CPPUNIT_TEST(duplicates_beyond_the_small_scan);
    CPPUNIT_TEST(whitespace_rules);
    CPPUNIT_TEST(invalid_inputs);
    CPPUNIT_TEST(serialisation_round_trip);
    CPPUNIT_TEST(serialisation_is_canonical);
    CPPUNIT_TEST(display_strings);
    CPPUNIT_TEST_SUITE_END();

public:
    void rfc_list_examples() {
        const List l = parse_list("sugar, tea, rum");
        CPPUNIT_ASSERT_EQUAL(size_t(3), l.size());
        CPPUNIT_ASSERT(Token{"sugar"} == std::get<Token>(item_of(l[0]).value));
        CPPUNIT_ASSERT(Token{"rum"} == std::get<Token>(item_of(l[2]).value));
        CPPUNIT_ASSERT(parse_list("").empty());
    }

    void rfc_inner_list_examples() {
        const List l = parse_list("(\"foo\" \"bar\"), (\"baz\"), (\"bat\" \"one\"), ()");
        CPPUNIT_ASSERT_EQUAL(size_t(4), l.size());
        CPPUNIT_ASSERT_EQUAL(size_t(2), inner_of(l[0]).items.size());
        CPPUNIT_ASSERT(String{"bar"} == std::get<String>(inner_of(l[0]).items[1].value));
        CPPUNIT_ASSERT(inner_of(l[3]).items.empty());

        const List p = parse_list("(\"foo\"; a=1;b=2);lvl=5, (\"bar\" \"baz\");lvl=1");
        CPPUNIT_ASSERT_EQUAL(size_t(2), p.size());
        const InnerList& first = inner_of(p[0]);
        CPPUNIT_ASSERT_EQUAL(int64_t(5), std::get<int64_t>(*find(first.params, "lvl")));
        CPPUNIT_ASSERT_EQUAL(int64_t(2), std::get<int64_t>(*find(first.items[0].params, "b")));
    }

    void rfc_parameter_example() {
        const List l = parse_list("abc;a=1;b=2; cde_456, (ghi;jk=4 l);q=\"9\";r=w");
        CPPUNIT_ASSERT_EQUAL(size_t(2), l.size());
        const Item& abc = item_of(l[0]);
        CPPUNIT_ASSERT_EQUAL(size_t(3), abc.params.size());
        CPPUNIT_ASSERT_EQUAL(true, std::get<bool>(*find(abc.params, "cde_456")));
        const InnerList& in = inner_of(l[1]);
        CPPUNIT_ASSERT(String{"9"} == std::get<String>(*find(in.params, "q")));
        CPPUNIT_ASSERT(Token{"w"} == std::get<Token>(*find(in.params, "r")));
        CPPUNIT_ASSERT_EQUAL(int64_t(4), std::get<int64_t>(*find(in.items[0].params, "jk")));
    }

    void rfc_dictionary_examples() {
        const Dictionary d = parse_dictionary("en=\"Applepie\", da=:w4ZibGV0w6ZydGUK:");
        CPPUNIT_ASSERT_EQUAL(size_t(2), d.size());
        CPPUNIT_ASSERT(String{"Applepie"} == std::get<String>(item_of(*find(d, "en")).value));
        CPPUNIT_ASSERT_EQUAL(std::string("\xc3\x86" "blet\xc3\xa6rte\n"),
                             std::get<ByteSeq>(item_of(*find(d, "da")).value).value);

        const Dictionary b = parse_dictionary("a=?0, b, c; foo=bar");
        CPPUNIT_ASSERT_EQUAL(false, std::get<bool>(item_of(*find(b, "a")).value));
        CPPUNIT_ASSERT_EQUAL(true, std::get<bool>(item_of(*find(b, "b")).value));
        const Item& c = item_of(*find(b, "c"));
        CPPUNIT_ASSERT_EQUAL(true, std::get<bool>(c.value));
        CPPUNIT_ASSERT(Token{"bar"} == std::get<Token>(*find(c.params, "foo")));

        const Dictionary r = parse_dictionary("rating=1.5, feelings=(joy sadness)");
        CPPUNIT_ASSERT_EQUAL(int64_t(1500), std::get<Decimal>(item_of(*find(r, "rating")).value).thousandths);
        CPPUNIT_ASSERT_EQUAL(size_t(2), inner_of(*find(r, "feelings")).items.size());

        const Dictionary m = parse_dictionary("a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid");
        CPPUNIT_ASSERT_EQUAL(size_t(4), m.size());
        CPPUNIT_ASSERT(Token{"bb"} == std::get<Token>(*find(item_of(*find(m, "c")).params, "aa")));
        CPPUNIT_ASSERT_EQUAL(true, std::get<bool>(*find(inner_of(*find(m, "d")).params, "valid")));
        CPPUNIT_ASSERT(find(m, "e") == nullptr);
    }

    void rfc_item_examples() {
        const Item i = parse_item("5; foo=bar");
        CPPUNIT_ASSERT_EQUAL(int64_t(5), std::get<int64_t>(i.value));
        CPPUNIT_ASSERT(Token{"bar"} == std::get<Token>(*find(i.params, "foo")));
        CPPUNIT_ASSERT_EQUAL(int64_t(42), std::get<int64_t>(parse_item("42").value));
        CPPUNIT_ASSERT_EQUAL(int64_t(4500), std::get<Decimal>(parse_item("4.5").value).thousandths);
        CPPUNIT_ASSERT(String{"hello world"} == std::get<String>(parse_item("\"hello world\"").value));
        CPPUNIT_ASSERT(Token{"foo123/456"} == std::get<Token>(parse_item("foo123/456").value));
        CPPUNIT_ASSERT_EQUAL(std::string("pretend this is binary content."),
                             std::get<ByteSeq>(parse_item(":cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:").value).value);
        CPPUNIT_ASSERT_EQUAL(true, std::get<bool>(parse_item("?1").value));
        CPPUNIT_ASSERT_EQUAL(false, std::get<bool>(parse_item("?0").value));
    }

    void numbers() {
        CPPUNIT_ASSERT_EQUAL(int64_t(-999999999999999), std::get<int64_t>(parse_item("-999999999999999").value));
        CPPUNIT_ASSERT_EQUAL(int64_t(999999999999999), std::get<int64_t>(parse_item("999999999999999").value));
        CPPUNIT_ASSERT_EQUAL(int64_t(0), std::get<int64_t>(parse_item("-0").value));
        CPPUNIT_ASSERT_EQUAL(int64_t(42), std::get<int64_t>(parse_item("0042").value));
        CPPUNIT_ASSERT_EQUAL(int64_t(-1230), std::get<Decimal>(parse_item("-1.23").value).thousandths);
        CPPUNIT_ASSERT_EQUAL(int64_t(999999999999999), std::get<Decimal>(parse_item("999999999999.999").value).thousandths);
        CPPUNIT_ASSERT_EQUAL(int64_t(1), std::get<Decimal>(parse_item("0.001").value).thousandths);
    }

    void strings_and_tokens() {
        CPPUNIT_ASSERT(String{"a\"b\\c"} == std::get<String>(parse_item("\"a\\\"b\\\\c\"").value));
        CPPUNIT_ASSERT(String{""} == std::get<String>(parse_item("\"\"").value));
        CPPUNIT_ASSERT(Token{"*foo"} == std::get<Token>(parse_item("*foo").value));
        CPPUNIT_ASSERT(Token{"a:b/c!#$%&'*+-.^_`|~"} == std::get<Token>(parse_item("a:b/c!#$%&'*+-.^_`|~").value));
    }

    void byte_sequences() {
        CPPUNIT_ASSERT_EQUAL(std::string(), std::get<ByteSeq>(parse_item("::").value).value);
        // Padding may be omitted (RFC 8941 §4.2.7 asks parsers to tolerate that).
        CPPUNIT_ASSERT_EQUAL(std::string("hi"), std::get<ByteSeq>(parse_item(":aGk:").value).value);
        CPPUNIT_ASSERT_EQUAL(std::string("hi"), std::get<ByteSeq>(parse_item(":aGk=:").value).value);
    }

    void duplicate_keys_take_last_value_first_position() {
        const Dictionary d = parse_dictionary("a=1, b=2, a=3");
        CPPUNIT_ASSERT_EQUAL(size_t(2), d.size());
        CPPUNIT_ASSERT_EQUAL(std::string("a"), d[0].first);
        CPPUNIT_ASSERT_EQUAL(int64_t(3), std::get<int64_t>(item_of(d[0].second).value));
        const Item i = parse_item("1;a=1;b=2;a=3");
        CPPUNIT_ASSERT_EQUAL(size_t(2), i.params.size());
        CPPUNIT_ASSERT_EQUAL(int64_t(3), std::get<int64_t>(*find(i.params, "a")));
    }

    // Issue 21 item 4: a client may send hundreds of KB (LimitRequestFieldSize is
    // raised for SAML). The work grows linearly (tests/e2e/test_parser_work.py
    // counts it); here the results at that size are right.
    void twenty_thousand_members_and_parameters() {
        constexpr int n = 20000;
        std::string dict, params = "x", expected;
        for (int i = 0; i < n; ++i) {
            const std::string key = (i ? ", k" : "k") + std::to_string(i) + "=";
            dict += key + std::to_string(i);
            params += ";p" + std::to_string(i) + "=" + std::to_string(i);
            expected += key + (i == 0 ? "-1" : i == n - 1 ? "-2" : std::to_string(i));
        }
        dict += ", k0=-1, k19999=-2";  // repeats: first position, last value
        params += ";p7=-7";
        const Dictionary d = parse_dictionary(dict);
        CPPUNIT_ASSERT_EQUAL(size_t(n), d.size());
        for (int i = 0; i < n; ++i) CPPUNIT_ASSERT_EQUAL("k" + std::to_string(i), d[size_t(i)].first);
        CPPUNIT_ASSERT_EQUAL(int64_t(-1), std::get<int64_t>(item_of(d[0].second).value));
        CPPUNIT_ASSERT_EQUAL(int64_t(12345), std::get<int64_t>(item_of(d[12345].second).value));
        CPPUNIT_ASSERT_EQUAL(int64_t(-2), std::get<int64_t>(item_of(d[n - 1].second).value));
        const Item it = parse_item(params);
        CPPUNIT_ASSERT_EQUAL(size_t(n), it.params.size());
        CPPUNIT_ASSERT_EQUAL(std::string("p7"), it.params[7].first);
        CPPUNIT_ASSERT_EQUAL(int64_t(-7), std::get<int64_t>(it.params[7].second));
        CPPUNIT_ASSERT_EQUAL(int64_t(19999), std::get<int64_t>(*find(it.params, "p19999")));
        CPPUNIT_ASSERT_EQUAL(expected, serialize(d));
    }

    // The repeated-key rule where the parser sorts instead of scanning (> 16 keys):
    // interleaved repeats, three of one key, a bare key replaced by a value.
    void duplicates_beyond_the_small_scan() {
        std::string in;
        for (int i = 0; i < 40; ++i) in += (i ? ", " : "") + std::string(1, char('a' + i % 20)) + "=" + std::to_string(i);
        in += ", a, t=(1 2)";
        const Dictionary d = parse_dictionary(in);
        CPPUNIT_ASSERT_EQUAL(size_t(20), d.size());
        for (int i = 0; i < 20; ++i) CPPUNIT_ASSERT_EQUAL(std::string(1, char('a' + i)), d[size_t(i)].first);
        CPPUNIT_ASSERT_EQUAL(true, std::get<bool>(item_of(d[0].second).value));      // a: 0, 20, then bare
        CPPUNIT_ASSERT_EQUAL(int64_t(21), std::get<int64_t>(item_of(d[1].second).value));  // b: 1, 21
        CPPUNIT_ASSERT_EQUAL(size_t(2), inner_of(d[19].second).items.size());          // t: 19, 39, (1 2)
        CPPUNIT_ASSERT_EQUAL(std::string("a, b=21"), serialize(d).substr(0, 7));
    }

    void whitespace_rules() {
        CPPUNIT_ASSERT_EQUAL(int64_t(1), std::get<int64_t>(parse_item("  1  ").value));
        CPPUNIT_ASSERT_EQUAL(size_t(2), parse_list("a,\tb").size());   // OWS around commas
        CPPUNIT_ASSERT_EQUAL(size_t(2), parse_list("a ,  b").size());
        CPPUNIT_ASSERT_EQUAL(size_t(2), inner_of(parse_list("( a  b )")[0]).items.size());
        CPPUNIT_ASSERT_EQUAL(size_t(2), parse_dictionary("a=1 ,\t b=2").size());
    }

    void invalid_inputs() {
        const char* bad_items[] = {
            "",                    // empty item
            "\t1",                 // leading tab is not SP
            "1\t",                 // trailing tab
            "1 2",                 // two items
            "1234567890123456",    // 16-digit integer
            "-",                   // sign only
            "1.2345",              // 4 fraction digits
            "1234567890123.1",     // 13 integer digits in a decimal
            "1.",                  // no fraction digit
            "- 1",
            "\"abc",               // unterminated string
            "\"a\\x\"",            // invalid escape
            "\"\xc3\xa9\"",        // non-ASCII in string
            "\"a\tb\"",            // control character
            ":abc",                // unterminated byte sequence
            ":a b:",               // space inside
            ":a=b=:",              // '=' inside
            ":a:",                 // impossible length
            "?2", "?",             // booleans
            "@foo",                // not a bare item
            "1;A=2",               // uppercase key
            "1;=2",                // empty key
            "1; a=",               // missing value
            "a;b=c;",              // dangling ';'
            "(1 2)",               // inner list is not an item
        };
        refused(bad_items, parse_item, "item");
        const char* bad_lists[] = {
            "a,", "a,,b", ",a", "(1 2", "(1\t2)", "(1,2)", "(1)(2)", "a b", "(1 2)x",
        };
        refused(bad_lists, parse_list, "list");
        const char* bad_dicts[] = {
            "a=1,", "A=1", "a=1;", "a==1", "1=a", "a=1 b=2", "a=(1", "a=1,,b=2", "=1",
        };
        refused(bad_dicts, parse_dictionary, "dictionary");
    }

    void serialisation_round_trip() {
        const char* inputs[] = {
            "a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid",
            "en=\"Applepie\", da=:w4ZibGV0w6ZydGUK:",
            "sig1=(\"@method\" \"@authority\" \"content-digest\");created=1618884473;keyid=\"test-key-rsa-pss\"",
            "a=?0, b, c;foo=bar",
        };
        for (const char* s : inputs)
            CPPUNIT_ASSERT_EQUAL(std::string(s), serialize(parse_dictionary(s)));
        CPPUNIT_ASSERT_EQUAL(std::string("(\"foo\";a=1;b=2);lvl=5, (\"bar\" \"baz\");lvl=1"),
                             serialize(parse_list("(\"foo\"; a=1;b=2);lvl=5, (\"bar\" \"baz\");lvl=1")));
    }

    void serialisation_is_canonical() {
        CPPUNIT_ASSERT_EQUAL(std::string("1.5"), serialize(parse_item("1.500")));
        CPPUNIT_ASSERT_EQUAL(std::string("0.0"), serialize(BareItem{Decimal{0}}));
        CPPUNIT_ASSERT_EQUAL(std::string("42"), serialize(parse_item("0042")));
        CPPUNIT_ASSERT_EQUAL(std::string(":aGk=:"), serialize(parse_item(":aGk:")));
        CPPUNIT_ASSERT_EQUAL(std::string("\"a\\\"b\""), serialize(BareItem{String{"a\"b"}}));
        CPPUNIT_ASSERT_THROW(serialize(BareItem{String{"\n"}}), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(serialize(BareItem{Token{"1a"}}), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(serialize(BareItem{int64_t(1000000000000000)}), std::invalid_argument);
    }

    void display_strings() {
        // RFC 9651 §3.3.8's example, and the characters that are always encoded
        CPPUNIT_ASSERT_EQUAL(std::string("%\"This is intended for display to %c3%bcsers.\""),
                             serialize(BareItem{DisplayString{"This is intended for display to \xc3\xbcsers."}}));
        CPPUNIT_ASSERT_EQUAL(std::string("%\"a%25b%22c\\d%0a\""), serialize(BareItem{DisplayString{"a%b\"c\\d\n"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("\"x\";loc=%\"f%c3%bc.mp3\""),
                             serialize(Item{String{"x"}, {{"loc", DisplayString{"f\xc3\xbc.mp3"}}}}));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StructuredFieldTest);

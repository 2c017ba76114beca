#include "libcmi/ascii_scan.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <random>
#include <string>

namespace {

// The definition, a byte at a time.
template <bool json>
std::size_t reference(const std::string& s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c > 0x7e || (json && (c == '"' || c == '\\'))) return i;
    }
    return s.size();
}

}  // namespace

class AsciiScanTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AsciiScanTest);
    CPPUNIT_TEST(every_byte_value_at_every_position);
    CPPUNIT_TEST(random_strings);
    CPPUNIT_TEST_SUITE_END();

public:
    // Each of the 256 byte values alone in a plain run, at each position of
    // strings long enough for several sixteen-byte steps and a tail.
    void every_byte_value_at_every_position() {
        for (std::size_t len = 1; len <= 50; ++len)
            for (std::size_t at = 0; at < len; ++at)
                for (int b = 0; b < 256; ++b) {
                    std::string s(len, 'a');
                    s[at] = static_cast<char>(b);
                    CPPUNIT_ASSERT_EQUAL(reference<false>(s), cmi::ascii_run<false>(s.data(), s.size()));
                    CPPUNIT_ASSERT_EQUAL(reference<true>(s), cmi::ascii_run<true>(s.data(), s.size()));
                }
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, cmi::ascii_run<true>("", 0));
    }

    void random_strings() {
        std::mt19937 rng(20261208);
        for (int n = 0; n < 20000; ++n) {
            std::string s;
            const int len = static_cast<int>(rng() % 80);
            for (int k = 0; k < len; ++k)
                s += static_cast<char>(rng() % 8 ? 0x20 + rng() % 0x5f : rng() % 256);
            CPPUNIT_ASSERT_EQUAL(reference<false>(s), cmi::ascii_run<false>(s.data(), s.size()));
            CPPUNIT_ASSERT_EQUAL(reference<true>(s), cmi::ascii_run<true>(s.data(), s.size()));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AsciiScanTest);

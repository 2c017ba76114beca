// Splits one fuzz input into typed values, decoding bytes the way libFuzzer's
// FuzzedDataProvider does (so seeds mean the same to both), but without clang's
// header: the targets also build with g++ for `make check`'s corpus replay.
// Strings come from the front of the input, numbers from its back.
#pragma once
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>

namespace fuzz {

class FuzzedInput {
public:
    FuzzedInput(const std::uint8_t* data, std::size_t size) : data_(data), left_(size) {}

    // At most max_length bytes; a backslash escapes the next byte, and a backslash
    // followed by anything but a backslash ends the string.
    std::string ConsumeRandomLengthString(std::size_t max_length) {
        std::string out;
        for (std::size_t i = 0; i < max_length && left_ != 0; ++i) {
            char c = static_cast<char>(take_front());
            if (c == '\\' && left_ != 0) {
                c = static_cast<char>(take_front());
                if (c != '\\') break;
            }
            out += c;
        }
        return out;
    }

    // min + (the bytes taken from the back, big-endian, as many as the range needs) mod (range + 1).
    template <typename T>
    T ConsumeIntegralInRange(T min, T max) {
        static_assert(std::is_integral_v<T> && sizeof(T) <= sizeof(std::uint64_t));
        if (min > max) std::abort();
        const std::uint64_t range = static_cast<std::uint64_t>(max) - static_cast<std::uint64_t>(min);
        std::uint64_t v = 0;
        for (std::size_t bits = 0; bits < sizeof(T) * CHAR_BIT && (range >> bits) != 0 && left_ != 0; bits += CHAR_BIT)
            v = (v << CHAR_BIT) | data_[--left_];
        if (range != std::numeric_limits<std::uint64_t>::max()) v %= range + 1;
        return static_cast<T>(static_cast<std::uint64_t>(min) + v);
    }

    template <typename T>
    T ConsumeIntegral() {
        return ConsumeIntegralInRange(std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max());
    }

    bool ConsumeBool() { return (ConsumeIntegral<std::uint8_t>() & 1) != 0; }

    template <typename T>
    T PickValueInArray(std::initializer_list<const T> list) {
        return *(list.begin() + ConsumeIntegralInRange<std::size_t>(0, list.size() - 1));
    }

private:
    std::uint8_t take_front() {
        --left_;
        return *data_++;
    }

    const std::uint8_t* data_;
    std::size_t left_;
};

}  // namespace fuzz

// Problem documents carry client-influenced text (URIs, names) in `detail`:
// whatever goes in must come out as valid JSON that parses back to one object.
// fuzz-sources: libcmi/problem.cpp
#include "libcmi/problem.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string detail(reinterpret_cast<const char*>(data), size);
    const std::string text = cmi::problem_json("signature-invalid", detail, "0192f3c4-a1b2-7000-8000-000000000000");
    if (text.find('\n') != std::string::npos) __builtin_trap();
    const auto doc = nlohmann::json::parse(text);  // throws (and so crashes) if invalid
    if (!doc.is_object() || doc["status"] != 422) __builtin_trap();
    return 0;
}

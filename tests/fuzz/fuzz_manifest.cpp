// A Decoupled Upload manifest is attacker-chosen XML: every outcome of parsing
// it and reading its items is a document or a ValidationError, within the
// limits (small ones here, so depth and node bounds are reached), and every
// location the items yield is either refused by the staging rules or a plain
// relative path.
// fuzz-sources: libcmi/manifest.cpp libcmi/staging_path.cpp libcmi/digest.cpp libcmi/base64.cpp libcmi/ossl.cpp pkg:libxml-2.0
#include "libcmi/manifest.hpp"
#include "libcmi/staging_path.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    cmi::ManifestLimits lim;
    lim.max_size = 64 * 1024;
    lim.max_depth = 16;
    lim.max_nodes = 2000;
    const auto* p = reinterpret_cast<const char*>(data);
    try {
        cmi::ManifestReader r(lim);
        // Feed in two parts: chunk boundaries must not matter.
        const size_t half = size / 2;
        r.feed(p, half);
        r.feed(p + half, size - half);
        auto doc = r.finish();
        const auto items = cmi::manifest_items(*doc, cmi::default_manifest_paths(),
                                               {cmi::DigestAlg::sha256, cmi::DigestAlg::sha512});
        for (const auto& it : items) {
            if (it.id.empty()) __builtin_trap();
            if (it.digest_alg && it.digest.size() != cmi::digest_alg_size(*it.digest_alg)) __builtin_trap();
            if (cmi::staging_path_syntax_error(it.location).empty()) {
                // accepted: relative, and no component is empty, "." or ".."
                if (it.location.front() == '/' || it.location.find('\0') != std::string::npos) __builtin_trap();
                size_t start = 0;
                for (;;) {
                    const size_t slash = it.location.find('/', start);
                    const std::string c = it.location.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
                    if (c.empty() || c == "." || c == "..") __builtin_trap();
                    if (slash == std::string::npos) break;
                    start = slash + 1;
                }
            }
        }
    } catch (const cmi::ValidationError&) {
    }
    return 0;
}

// A content-validation failure, carrying the problem code (docs/architecture.md §Problem types) the
// client must see (signature-malformed, digest-mismatch, signer-untrusted, ...).
#pragma once
#include <stdexcept>
#include <string>

namespace cmi {

struct ValidationError : std::runtime_error {
    ValidationError(const char* problem_code, const std::string& detail)
        : std::runtime_error(detail), code(problem_code) {}
    const char* code;  // a static string, a key of find_problem_type()
};

}  // namespace cmi

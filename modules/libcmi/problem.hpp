// RFC 9457 problem documents for every refusal a CMI client can see.
#pragma once
#include <string>
#include <string_view>

namespace cmi {

struct ProblemType {
    const char* code;   // the part after "tag:mod-cmi,2026:"
    int status;         // HTTP status
    const char* title;  // short, human-readable
};

// The problem types (docs/architecture.md §Problem types); nullptr for an unknown code.
const ProblemType* find_problem_type(std::string_view code);

inline constexpr const char* kProblemTypePrefix = "tag:mod-cmi,2026:";
inline constexpr const char* kProblemContentType = "application/problem+json";

// Serialises {"type","title","status","detail","transaction_id"} as one line
// of JSON. Throws std::invalid_argument for a code not in the table.
std::string problem_json(std::string_view code, std::string_view detail,
                         std::string_view transaction_id);

// The same document with extension members (RFC 9457 §3.2) taken from
// `extensions`, a JSON object (e.g. {"items":[...]}); the standard members
// above cannot be overridden by it.
std::string problem_json(std::string_view code, std::string_view detail,
                         std::string_view transaction_id, std::string_view extensions);

}  // namespace cmi

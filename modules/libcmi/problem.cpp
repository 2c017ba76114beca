#include "libcmi/problem.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace cmi {
namespace {

constexpr ProblemType kTypes[] = {
    {"tls-required", 403, "TLS required"},
    {"tls-too-weak", 403, "TLS version too old"},
    {"authentication-required", 401, "Authentication required"},
    {"authentication-failed", 401, "Authentication failed"},
    {"forbidden", 403, "Forbidden"},
    {"signature-required", 400, "Content signature required"},
    {"signature-malformed", 400, "Content signature malformed"},
    {"digest-mismatch", 422, "Content digest mismatch"},
    {"signature-invalid", 422, "Content signature invalid"},
    {"signer-untrusted", 403, "Content signer not trusted"},
    {"signer-not-bound", 403, "Content signer is not the CMI user"},
    {"manifest-malformed", 400, "Manifest malformed"},
    {"content-missing", 422, "Staged content missing"},
    {"too-large", 413, "Request too large"},
    {"audit-unavailable", 503, "Audit log unavailable"},
    {"authentication-unavailable", 503, "Authentication service unavailable"},
    {"authentication-rate-limited", 429, "Too many authentications"},
    {"validation-unavailable", 503, "Content validation unavailable"},
    {"signature-reused", 409, "Content signature already used for another target"},
    {"copy-refused", 403, "Copy or move into a validated location refused"},
    {"method-refused", 405, "Method not allowed where content is validated"},
    {"partial-update-refused", 400, "Partial update not accepted where content is validated"},
    {"redirect-refused", 403, "Internal redirect into another content policy refused"},
};

}  // namespace

const ProblemType* find_problem_type(std::string_view code) {
    for (const auto& t : kTypes)
        if (code == t.code) return &t;
    return nullptr;
}

std::string problem_json(std::string_view code, std::string_view detail,
                         std::string_view transaction_id) {
    const ProblemType* t = find_problem_type(code);
    if (!t) throw std::invalid_argument("unknown problem code: " + std::string(code));
    nlohmann::ordered_json doc;
    doc["type"] = std::string(kProblemTypePrefix) + t->code;
    doc["title"] = t->title;
    doc["status"] = t->status;
    doc["detail"] = std::string(detail);
    doc["transaction_id"] = std::string(transaction_id);
    // Invalid UTF-8 in a detail is replaced, never a reason to fail a refusal.
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string problem_json(std::string_view code, std::string_view detail,
                         std::string_view transaction_id, std::string_view extensions) {
    auto doc = nlohmann::ordered_json::parse(problem_json(code, detail, transaction_id));
    const auto ext = nlohmann::ordered_json::parse(extensions);
    if (!ext.is_object()) throw std::invalid_argument("problem extensions must be a JSON object");
    for (const auto& [k, v] : ext.items())
        if (!doc.contains(k)) doc[k] = v;
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cmi

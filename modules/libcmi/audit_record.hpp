// Audit log records (docs/architecture.md §Audit trail, docs/audit-log.md): one
// JSON object per line, fields in a fixed order, every field present (null when
// unknown), pure printable ASCII.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cmi::audit {

inline constexpr int kRecordVersion = 1;

struct TlsFacts {
    std::optional<std::string> protocol, cipher, client_cert_sha256, client_dn;
};

struct AuthFacts {
    std::optional<std::string> mech, user, issuer;
};

struct RequestBody {
    std::uint64_t bytes = 0;
    std::optional<std::string> digest;  // RFC 9530 form: sha-256=:base64:
};

struct ValidationFacts {
    std::optional<std::string> result, format, signer, items;
};

// One file of the evidence store (evidence_store.hpp) that a begin record
// vouches for: the provider's own signature (issue 15.3).
struct EvidenceFile {
    std::string kind;                 // cms, http-signature-base, http-signature,
                                      // http-signature-key, manifest, manifest-items
    std::optional<std::string> name;  // the keyid (http-signature*), else null
    std::string sha256;               // hex: the file's name in the store
    std::uint64_t bytes = 0;
};

struct Record {
    std::uint64_t seq = 0;
    std::string node;
    std::string ev;  // begin | end | recovered | checkpoint | discontinuity | unconfirmed
    std::optional<std::string> txid, client_txid, op;
    std::int64_t time_us = 0;  // microseconds since the Unix epoch
    std::optional<std::string> peer;
    std::optional<TlsFacts> tls;
    std::optional<AuthFacts> auth;
    std::optional<std::string> method, uri;
    std::optional<std::string> destination;  // COPY/MOVE: the Destination's path, without its query
    std::optional<std::string> content_type;
    std::optional<RequestBody> request;
    std::optional<ValidationFacts> validation;
    std::optional<int> status;
    std::optional<std::string> refusal;  // end: the problem code of a refusal (CMI_REFUSAL)
    std::optional<std::uint64_t> response_bytes;
    std::optional<std::int64_t> duration_us;
    std::optional<std::string> receipt;
    std::optional<std::vector<EvidenceFile>> evidence;  // begin only: null without evidence
    // ev "recovered" only: what was cut off the end of the log at start-up.
    struct Recovered {
        std::uint64_t bytes = 0;
        std::string sha256;  // hex, of the cut bytes
    };
    std::optional<Recovered> recovered;  // serialized only when set
    // ev "checkpoint" only: a signature over the chain head (audit_chain.hpp).
    struct Checkpoint {
        std::string alg, keyid, sig;  // sig in base64
    };
    std::optional<Checkpoint> checkpoint;  // serialized only when set
    // ev "discontinuity" only: the log on disk is not the chain the server
    // wrote (cut back, rewritten, or not matching <log>.head at start-up).
    // The record's prev is the head the server expected, so the chain breaks here.
    struct Discontinuity {
        std::string reason;
        std::optional<std::uint64_t> expected_seq;
        std::optional<std::string> expected_hash;  // hex
        std::optional<std::uint64_t> found_seq;    // the last complete line of the file, if a record
        std::optional<std::string> found_hash;     // hex
        std::uint64_t found_size = 0;              // bytes of the file as found
    };
    std::optional<Discontinuity> discontinuity;  // serialized only when set
    // ev "unconfirmed" only: written at start-up after httpd was killed. The
    // records after..through were found after the last head the node signed
    // (<log>.head or a checkpoint): nothing but the file vouches for them, so
    // the checkpoint that follows must not be read as the node vouching for them.
    struct Unconfirmed {
        std::uint64_t after = 0;    // the last record a signature of the node confirms (0: none)
        std::uint64_t through = 0;  // the last record found in the file
    };
    std::optional<Unconfirmed> unconfirmed;  // serialized only when set
    std::string prev;  // hex SHA-256 of the previous line (see audit_chain.hpp)
};

// A begin or end record whose strings belong to someone else (a request's
// pool): what mod_cmi_audit makes for every request without copying a byte.
// Serialized exactly as a Record with the same values. tls.client_cert_sha256
// (hex) and request.digest (RFC 9530, base64) are written without looking for
// bytes to escape: only the module's own values go there.
struct RecordView {
    using Str = std::optional<std::string_view>;
    struct Tls {
        Str protocol, cipher, client_cert_sha256, client_dn;
    };
    struct Auth {
        Str mech, user, issuer;
    };
    struct Body {
        std::uint64_t bytes = 0;
        Str digest;
    };
    struct Validation {
        Str result, format, signer, items;
    };
    std::string_view node, ev;
    Str txid, client_txid, op;
    std::int64_t time_us = 0;
    Str peer;
    std::optional<Tls> tls;
    std::optional<Auth> auth;
    Str method, uri, destination, content_type;
    std::optional<Body> request;
    std::optional<Validation> validation;
    std::optional<int> status;
    Str refusal;
    std::optional<std::uint64_t> response_bytes;
    std::optional<std::int64_t> duration_us;
    Str receipt;
    const std::vector<EvidenceFile>* evidence = nullptr;  // null: none

    // The request's description — ids (txid, client_txid, op), connection
    // (peer, tls) and request line (method, uri, destination, content_type) —
    // as an earlier record of the same request serialized it: copied as it is
    // (those fields of this view are not read). An end record takes them from
    // its begin record: the same bytes, without building them twice.
    struct Pieces {
        std::string_view ids, connection, request_line;  // each with its leading comma
    };
    const Pieces* pieces = nullptr;
};

// Where serialize_fields put a record's Pieces in its output (offsets).
struct PieceSpans {
    std::size_t ids[2] = {0, 0}, connection[2] = {0, 0}, request_line[2] = {0, 0};
    RecordView::Pieces in(std::string_view out) const {
        return {out.substr(ids[0], ids[1] - ids[0]), out.substr(connection[0], connection[1] - connection[0]),
                out.substr(request_line[0], request_line[1] - request_line[0])};
    }
};

// The record as one line of JSON, without the line feed. Strings that are not
// valid UTF-8 get U+FFFD for the bad bytes; everything outside printable ASCII
// is \u-escaped, so a hostile URI or DN cannot break a line or a terminal.
std::string serialize(const Record& rec);

// The same in two steps, so a writer can do the expensive part before it
// takes the log's lock: every field but seq and prev, then the line.
// assemble_line(r.seq, serialize_fields(r), r.prev) == serialize(r).
std::string serialize_fields(const Record& rec);
// The fields of a view, appended to `out` (which keeps its capacity: a
// buffer used again costs no allocation). `spans`: where its Pieces went.
void serialize_fields(const RecordView& rec, std::string& out, PieceSpans* spans = nullptr);
std::string assemble_line(std::uint64_t seq, const std::string& fields, const std::string& prev);

// RFC 3339 UTC with microseconds: 2026-11-28T11:09:16.123456Z.
std::string rfc3339_us(std::int64_t unix_us);
// The same into `buf` (no allocation); returns its length (27 for years 0-9999).
std::size_t rfc3339_us(std::int64_t unix_us, char (&buf)[40]);

}  // namespace cmi::audit

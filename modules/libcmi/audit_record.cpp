#include "libcmi/audit_record.hpp"

#include "libcmi/ascii_scan.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace cmi::audit {
namespace {

// A hand-written JSON writer for records: one std::string, no DOM. Its output
// is byte for byte what nlohmann::json::dump(-1, ' ', true, replace) gives
// (a unit test compares them on random bytes): pure ASCII, short escapes for
// \b \t \n \f \r \" \\, \u00xx for other controls and DEL, \uxxxx (surrogate
// pairs above U+FFFF) for everything else, U+FFFD for each maximal ill-formed
// UTF-8 subsequence.
// The output: a string used as a buffer, grown as needed, every write
// bounds-checked (cheaper than one std::string append per piece).
class Out {
public:
    explicit Out(std::string& s) : s_(s), len_(s.size()) { s_.resize(len_ + 1024); }
    // Cuts the string to what was written; call before the string is used.
    void finish() {
        if (!done_) s_.resize(len_);
        done_ = true;
    }
    ~Out() { finish(); }
    Out(const Out&) = delete;
    Out& operator=(const Out&) = delete;
    std::size_t size() const { return len_; }
    char* room(std::size_t n) {
        if (len_ + n > s_.size()) s_.resize(std::max(s_.size() * 2, len_ + n));
        char* p = &s_[len_];
        len_ += n;
        return p;
    }
    void put(char c) { *room(1) = c; }
    void put(const char* p, std::size_t n) { std::memcpy(room(n), p, n); }

private:
    std::string& s_;
    std::size_t len_;
    bool done_ = false;
};

class Writer {
public:
    explicit Writer(Out& out) : out_(out) {}

    std::size_t size() const { return out_.size(); }
    // Members serialized before (each piece starts with its comma).
    void raw(std::string_view members) {
        out_.put(members.data(), members.size());
        first_ = false;
    }

    // Our own keys, string literals: nothing to escape, length known.
    template <std::size_t N>
    void key(const char (&k)[N]) { head(k, 0); }

    // A member, "key":value, written with one bounds check where the value
    // needs no escaping (most members); else as key() then string().
    template <std::size_t N>
    void member(const char (&k)[N], std::string_view v) {
        if (ascii_run<true>(v.data(), v.size()) != v.size()) {
            key(k);
            return string(v);
        }
        quoted(head(k, v.size() + 2), v);
    }
    template <std::size_t N>
    void member(const char (&k)[N], const std::string& v) { member(k, std::string_view(v)); }
    template <std::size_t N, class S>
    void member(const char (&k)[N], const std::optional<S>& v) {
        if (v) member(k, std::string_view(*v));
        else std::memcpy(head(k, 4), "null", 4);
    }
    template <std::size_t N, class T, class = std::enable_if_t<std::is_integral_v<T>>>
    void member_number(const char (&k)[N], T v) { digits(k, std::to_chars(num_, num_ + sizeof num_, v).ptr); }
    template <std::size_t N, class T>
    void member_number(const char (&k)[N], const std::optional<T>& v) {
        if (v) member_number(k, *v);
        else std::memcpy(head(k, 4), "null", 4);
    }
    void null() { out_.put("null", 4); }
    void string(std::string_view v) {
        const std::size_t run = ascii_run<true>(v.data(), v.size());
        if (run == v.size()) return ours(v);  // nothing to escape (most strings)
        out_.put('"');
        out_.put(v.data(), run);
        escape(v.substr(run));
        out_.put('"');
    }
    // A string this program made of plain ASCII (a time, a hex or base64
    // digest, a literal): written as it is, without looking for bytes to
    // escape. Never for anything a client or the configuration gave.
    void ours(std::string_view v) { quoted(out_.room(v.size() + 2), v); }
    void ours(const std::string& v) { ours(std::string_view(v)); }
    void ours(const std::optional<std::string_view>& v) {
        if (v) ours(*v);
        else null();
    }
    void string(const std::string& v) { string(std::string_view(v)); }
    void string(const std::optional<std::string>& v) {
        if (v) string(*v);
        else null();
    }
    // {"k":v,...} written by f(Writer&), or null.
    template <class F>
    void object(bool present, F f) {
        if (!present) return null();
        out_.put('{');
        Writer inner(out_);
        f(inner);
        out_.put('}');
    }

    // [{…},…] with f(Writer&, element) writing each object's members, or null.
    template <class T, class F>
    void array(const std::vector<T>* v, F f) {
        if (!v) return null();
        out_.put('[');
        bool first = true;
        for (const T& e : *v) {
            if (!first) out_.put(',');
            first = false;
            out_.put('{');
            Writer inner(out_);
            f(inner, e);
            out_.put('}');
        }
        out_.put(']');
    }

private:
    static constexpr char kHex[] = "0123456789abcdef";

    // Writes [,]"key": with `extra` bytes of room after it; returns where they start.
    template <std::size_t N>
    char* head(const char (&k)[N], std::size_t extra) {
        char* p = out_.room(N + 2 + (first_ ? 0 : 1) + extra);
        if (!first_) *p++ = ',';
        first_ = false;
        *p++ = '"';
        std::memcpy(p, k, N - 1);
        p += N - 1;
        *p++ = '"';
        *p++ = ':';
        return p;
    }
    static void quoted(char* p, std::string_view v) {
        *p = '"';
        std::memcpy(p + 1, v.data(), v.size());
        p[v.size() + 1] = '"';
    }
    template <std::size_t N>
    void digits(const char (&k)[N], const char* end) {
        const auto n = static_cast<std::size_t>(end - num_);
        std::memcpy(head(k, n), num_, n);
    }

    void u16(unsigned v) {
        char* p = out_.room(6);
        p[0] = '\\';
        p[1] = 'u';
        p[2] = kHex[(v >> 12) & 15];
        p[3] = kHex[(v >> 8) & 15];
        p[4] = kHex[(v >> 4) & 15];
        p[5] = kHex[v & 15];
    }

    void code_point(std::uint32_t cp) {
        switch (cp) {
            case 0x08: out_.put("\\b", 2); return;
            case 0x09: out_.put("\\t", 2); return;
            case 0x0a: out_.put("\\n", 2); return;
            case 0x0c: out_.put("\\f", 2); return;
            case 0x0d: out_.put("\\r", 2); return;
            case 0x22: out_.put("\\\"", 2); return;
            case 0x5c: out_.put("\\\\", 2); return;
            default: break;
        }
        if (cp >= 0x20 && cp < 0x7f) {
            out_.put(static_cast<char>(cp));
        } else if (cp <= 0xffff) {
            u16(cp);
        } else {
            u16(0xd7c0 + (cp >> 10));
            u16(0xdc00 + (cp & 0x3ff));
        }
    }

    void escape(std::string_view v) {
        const auto* p = reinterpret_cast<const unsigned char*>(v.data());
        const std::size_t n = v.size();
        std::size_t i = 0;
        while (i < n) {
            // Most of a record is printable ASCII: copy such runs whole.
            const std::size_t run = i + ascii_run<true>(v.data() + i, n - i);
            if (run > i) {
                out_.put(v.data() + i, run - i);
                i = run;
                if (i == n) break;
            }
            const unsigned char b = p[i];
            if (b < 0x80) {
                if (b >= 0x20 && b != '"' && b != '\\' && b != 0x7f) out_.put(static_cast<char>(b));
                else code_point(b);
                ++i;
                continue;
            }
            // Unicode Table 3-7: the well-formed sequences.
            std::size_t len = 0;
            unsigned char lo = 0x80, hi = 0xbf;
            std::uint32_t cp = 0;
            if (b >= 0xc2 && b <= 0xdf) { len = 2; cp = b & 0x1f; }
            else if (b == 0xe0) { len = 3; lo = 0xa0; cp = b & 0x0f; }
            else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) { len = 3; cp = b & 0x0f; }
            else if (b == 0xed) { len = 3; hi = 0x9f; cp = b & 0x0f; }
            else if (b == 0xf0) { len = 4; lo = 0x90; cp = b & 0x07; }
            else if (b >= 0xf1 && b <= 0xf3) { len = 4; cp = b & 0x07; }
            else if (b == 0xf4) { len = 4; hi = 0x8f; cp = b & 0x07; }
            if (len == 0) {  // not a lead byte
                u16(0xfffd);
                ++i;
                continue;
            }
            std::size_t k = 1;
            for (; k < len && i + k < n; ++k) {
                const unsigned char c = p[i + k];
                if (c < lo || c > hi) break;
                lo = 0x80;
                hi = 0xbf;
                cp = (cp << 6) | (c & 0x3f);
            }
            if (k == len) code_point(cp);
            else u16(0xfffd);  // the maximal ill-formed subpart: one replacement
            i += k;
        }
    }

    Out& out_;
    bool first_ = true;
    char num_[24];
};

}  // namespace

std::string serialize(const Record& rec) { return assemble_line(rec.seq, serialize_fields(rec), rec.prev); }

std::string assemble_line(std::uint64_t seq, const std::string& fields, const std::string& prev) {
    std::string line;
    line.reserve(fields.size() + prev.size() + 48);
    line += "{\"v\":";
    line += std::to_string(kRecordVersion);
    line += ",\"seq\":";
    line += std::to_string(seq);
    line += ',';
    line += fields;
    line += ",\"prev\":\"";
    line += prev;  // hex: nothing to escape
    line += "\"}";
    return line;
}

namespace {

const std::vector<EvidenceFile>* evidence_of(const Record& rec) { return rec.evidence ? &*rec.evidence : nullptr; }
const std::vector<EvidenceFile>* evidence_of(const RecordView& rec) { return rec.evidence; }

const RecordView::Pieces* pieces_of(const Record&) { return nullptr; }
const RecordView::Pieces* pieces_of(const RecordView& rec) { return rec.pieces; }

// Writes one group of members (or copies it from `piece`), noting where it went.
template <class F>
void group(Writer& w, const std::string_view* piece, std::size_t (&span)[2], F f) {
    span[0] = w.size();
    if (piece) w.raw(*piece);
    else f();
    span[1] = w.size();
}

// The fields every begin and end record has, from a Record or a RecordView.
template <class R>
void write_fields(Writer& w, const R& rec, PieceSpans& spans) {
    const RecordView::Pieces* p = pieces_of(rec);
    // A view's certificate fingerprint (hex) and body digest (RFC 9530) are
    // mod_cmi_audit's own (RecordView): nothing to escape. A Record's may come
    // from anywhere (a fuzzer): escaped as every other string.
    const auto module_made = [](Writer& o, const auto& v) {
        if constexpr (std::is_same_v<R, RecordView>) o.ours(v);
        else o.string(v);
    };
    w.member("node", rec.node);
    w.key("ev"); w.ours(rec.ev);  // a literal of ours
    group(w, p ? &p->ids : nullptr, spans.ids, [&] {
        w.member("txid", rec.txid);
        w.member("client_txid", rec.client_txid);
        w.member("op", rec.op);
    });
    char time[40];
    w.key("time"); w.ours(std::string_view(time, rfc3339_us(rec.time_us, time)));
    group(w, p ? &p->connection : nullptr, spans.connection, [&] {
        w.member("peer", rec.peer);
        w.key("tls");
        w.object(rec.tls.has_value(), [&](Writer& o) {
            o.member("protocol", rec.tls->protocol);
            o.member("cipher", rec.tls->cipher);
            o.key("client_cert_sha256"); module_made(o, rec.tls->client_cert_sha256);
            o.member("client_dn", rec.tls->client_dn);
        });
    });
    w.key("auth");
    w.object(rec.auth.has_value(), [&](Writer& o) {
        o.member("mech", rec.auth->mech);
        o.member("user", rec.auth->user);
        o.member("issuer", rec.auth->issuer);
    });
    group(w, p ? &p->request_line : nullptr, spans.request_line, [&] {
        w.member("method", rec.method);
        w.member("uri", rec.uri);
        w.member("destination", rec.destination);
        w.member("content_type", rec.content_type);
    });
    w.key("request");
    w.object(rec.request.has_value(), [&](Writer& o) {
        o.member_number("bytes", rec.request->bytes);
        o.key("digest"); module_made(o, rec.request->digest);
    });
    w.key("validation");
    w.object(rec.validation.has_value(), [&](Writer& o) {
        o.member("result", rec.validation->result);
        o.member("format", rec.validation->format);
        o.member("signer", rec.validation->signer);
        o.member("items", rec.validation->items);
    });
    w.member_number("status", rec.status);
    w.member("refusal", rec.refusal);
    w.member_number("response_bytes", rec.response_bytes);
    w.member_number("duration_us", rec.duration_us);
    w.member("receipt", rec.receipt);
    w.key("evidence");
    w.array(evidence_of(rec), [](Writer& o, const EvidenceFile& e) {
        o.member("kind", e.kind);
        o.member("name", e.name);
        o.member("sha256", e.sha256);
        o.member_number("bytes", e.bytes);
    });
}

}  // namespace

std::string serialize_fields(const Record& rec) {
    std::string out;
    Out buffer(out);
    Writer w(buffer);
    PieceSpans spans;
    write_fields(w, rec, spans);
    if (rec.checkpoint) {
        w.key("checkpoint");
        w.object(true, [&](Writer& o) {
            o.member("alg", rec.checkpoint->alg);
            o.member("keyid", rec.checkpoint->keyid);
            o.member("sig", rec.checkpoint->sig);
        });
    }
    if (rec.recovered) {
        w.key("recovered");
        w.object(true, [&](Writer& o) {
            o.member_number("bytes", rec.recovered->bytes);
            o.member("sha256", rec.recovered->sha256);
        });
    }
    if (rec.discontinuity) {
        const auto& d = *rec.discontinuity;
        w.key("discontinuity");
        w.object(true, [&](Writer& o) {
            o.member("reason", d.reason);
            o.key("expected");
            o.object(true, [&](Writer& e) {
                e.member_number("seq", d.expected_seq);
                e.member("hash", d.expected_hash);
            });
            o.key("found");
            o.object(true, [&](Writer& f) {
                f.member_number("seq", d.found_seq);
                f.member("hash", d.found_hash);
                f.member_number("size", d.found_size);
            });
        });
    }
    if (rec.unconfirmed) {
        w.key("unconfirmed");
        w.object(true, [&](Writer& o) {
            o.member_number("after", rec.unconfirmed->after);
            o.member_number("through", rec.unconfirmed->through);
        });
    }
    buffer.finish();
    return out;
}

void serialize_fields(const RecordView& rec, std::string& out, PieceSpans* spans) {
    Out buffer(out);
    Writer w(buffer);
    PieceSpans mine;
    write_fields(w, rec, spans ? *spans : mine);
    buffer.finish();
}

std::string rfc3339_us(std::int64_t unix_us) {
    char buf[40];
    return std::string(buf, rfc3339_us(unix_us, buf));
}

namespace {

// The date and time of day of the last second this thread formatted: the
// begin and end records of a request, and the requests a thread serves in
// one second, share it (only the microseconds are new).
struct LastSecond {
    std::int64_t secs;
    bool valid;
    char text[20];  // YYYY-MM-DDTHH:MM:SS.
};
thread_local LastSecond t_last{0, false, {}};

void put_digits(char* at, std::int64_t v, int digits) {
    for (int i = digits - 1; i >= 0; --i, v /= 10) at[i] = static_cast<char>('0' + v % 10);
}

}  // namespace

// Calendar arithmetic rather than gmtime_r: glibc's gmtime_r takes the
// process-wide tz lock, which every worker thread contends for twice a request.
// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
std::size_t rfc3339_us(std::int64_t unix_us, char (&out)[40]) {
    std::int64_t secs = unix_us / 1000000;
    std::int64_t micros = unix_us % 1000000;
    if (micros < 0) {
        micros += 1000000;
        --secs;
    }
    LastSecond& last = t_last;
    if (last.valid && last.secs == secs) {
        std::memcpy(out, last.text, 20);
        put_digits(out + 20, micros, 6);
        out[26] = 'Z';
        return 27;
    }
    std::int64_t days = secs / 86400;
    std::int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        --days;
    }
    const std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;                                // [0, 146096]
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);          // [0, 365]
    const std::int64_t mp = (5 * doy + 2) / 153;                               // [0, 11], from March
    const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    if (year < 0 || year > 9999) {  // outside what four digits say: as printf would
        const int n = std::snprintf(out, sizeof out, "%04lld-%02d-%02dT%02d:%02d:%02d.%06dZ",
                                    static_cast<long long>(year), static_cast<int>(month), static_cast<int>(day),
                                    static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60),
                                    static_cast<int>(sod % 60), static_cast<int>(micros));
        return n < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof out - 1);
    }
    // YYYY-MM-DDTHH:MM:SS.uuuuuuZ by hand (snprintf was a third of a record's cost).
    char* buf = out;
    auto put = [buf](int at, std::int64_t v, int digits) { put_digits(buf + at, v, digits); };
    put(0, year, 4);
    buf[4] = '-';
    put(5, month, 2);
    buf[7] = '-';
    put(8, day, 2);
    buf[10] = 'T';
    put(11, sod / 3600, 2);
    buf[13] = ':';
    put(14, sod / 60 % 60, 2);
    buf[16] = ':';
    put(17, sod % 60, 2);
    buf[19] = '.';
    put(20, micros, 6);
    buf[26] = 'Z';
    std::memcpy(last.text, buf, 20);
    last.secs = secs;
    last.valid = true;
    return 27;
}

}  // namespace cmi::audit

#include "libcmi/receipt.hpp"

#include "libcmi/base64.hpp"
#include "libcmi/sha256.hpp"
#include "libcmi/signer.hpp"

#include <nlohmann/json.hpp>

namespace cmi::audit {
namespace {

using json = nlohmann::ordered_json;

template <class T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

void skip_ws(std::string_view s, std::size_t& i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

}  // namespace

std::string receipt_canonical(const ReceiptFacts& f) {
    json j;
    j["txid"] = f.txid;
    j["time"] = f.time;
    j["user"] = opt(f.user);
    j["method"] = opt(f.method);
    j["uri"] = opt(f.uri);
    j["digest"] = opt(f.digest);
    j["status"] = f.status;
    return j.dump(-1, ' ', true, json::error_handler_t::replace);
}

std::array<unsigned char, 32> receipt_hash(const ReceiptFacts& facts) {
    Sha256 h;
    h.update(receipt_canonical(facts));
    return h.finish();
}

std::string receipt_message(const Receipt& r) {
    return "cmi-audit receipt v1\n" + r.txid + "\n" + std::to_string(r.seq) + "\n" + r.begin + "\n" +
           base64(r.hash.data(), r.hash.size()) + "\n";
}

std::string format_receipt(const Receipt& r) {
    return "txid=\"" + r.txid + "\", seq=" + std::to_string(r.seq) + ", begin=\"" + r.begin + "\", hash=:" +
           base64(r.hash.data(), r.hash.size()) + ":, sig=:" + base64(r.sig.data(), r.sig.size()) + ":, keyid=\"" +
           r.keyid + "\"";
}

std::optional<Receipt> parse_receipt(std::string_view s) {
    Receipt r;
    bool have_txid = false, have_seq = false, have_begin = false, have_hash = false, have_sig = false,
         have_keyid = false;
    std::size_t i = 0;
    skip_ws(s, i);
    while (i < s.size()) {
        const std::size_t eq = s.find('=', i);
        if (eq == std::string_view::npos) return std::nullopt;
        const std::string_view key = s.substr(i, eq - i);
        i = eq + 1;
        if (i >= s.size()) return std::nullopt;
        std::string value;
        if (key == "seq" && !have_seq) {  // an Integer: 1 to 15 digits, no sign, no leading zero
            const std::size_t start = i;
            while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
            if (i == start || i - start > 15 || s[start] == '0') return std::nullopt;
            r.seq = std::stoull(std::string(s.substr(start, i - start)));
            have_seq = true;
            skip_ws(s, i);
            if (i == s.size()) break;
            if (s[i] != ',') return std::nullopt;
            ++i;
            skip_ws(s, i);
            continue;
        }
        const char open = s[i];
        if (open != '"' && open != ':') return std::nullopt;
        const std::size_t close = s.find(open, i + 1);
        if (close == std::string_view::npos) return std::nullopt;
        value.assign(s.substr(i + 1, close - i - 1));
        if (value.find('\\') != std::string::npos) return std::nullopt;  // no escapes in our values
        i = close + 1;
        try {
            if (key == "txid" && open == '"' && !have_txid) r.txid = value, have_txid = true;
            else if (key == "begin" && open == '"' && !have_begin) r.begin = value, have_begin = true;
            else if (key == "keyid" && open == '"' && !have_keyid) r.keyid = value, have_keyid = true;
            else if (key == "hash" && open == ':' && !have_hash) r.hash = base64_decode_padded(value), have_hash = true;
            else if (key == "sig" && open == ':' && !have_sig) r.sig = base64_decode_padded(value), have_sig = true;
            else return std::nullopt;
        } catch (const std::exception&) {
            return std::nullopt;
        }
        skip_ws(s, i);
        if (i == s.size()) break;
        if (s[i] != ',') return std::nullopt;
        ++i;
        skip_ws(s, i);
    }
    if (!(have_txid && have_seq && have_begin && have_hash && have_sig && have_keyid) || r.hash.size() != 32 ||
        !is_sha256_hex(r.begin))
        return std::nullopt;
    return r;
}

}  // namespace cmi::audit

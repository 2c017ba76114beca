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

std::string format_receipt(const Receipt& r) {
    return "txid=\"" + r.txid + "\", hash=:" + base64(r.hash.data(), r.hash.size()) + ":, sig=:" +
           base64(r.sig.data(), r.sig.size()) + ":, keyid=\"" + r.keyid + "\"";
}

std::optional<Receipt> parse_receipt(std::string_view s) {
    Receipt r;
    bool have_txid = false, have_hash = false, have_sig = false, have_keyid = false;
    std::size_t i = 0;
    skip_ws(s, i);
    while (i < s.size()) {
        const std::size_t eq = s.find('=', i);
        if (eq == std::string_view::npos) return std::nullopt;
        const std::string_view key = s.substr(i, eq - i);
        i = eq + 1;
        if (i >= s.size()) return std::nullopt;
        std::string value;
        const char open = s[i];
        if (open != '"' && open != ':') return std::nullopt;
        const std::size_t close = s.find(open, i + 1);
        if (close == std::string_view::npos) return std::nullopt;
        value.assign(s.substr(i + 1, close - i - 1));
        if (value.find('\\') != std::string::npos) return std::nullopt;  // no escapes in our values
        i = close + 1;
        try {
            if (key == "txid" && open == '"' && !have_txid) r.txid = value, have_txid = true;
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
    if (!(have_txid && have_hash && have_sig && have_keyid) || r.hash.size() != 32) return std::nullopt;
    return r;
}

}  // namespace cmi::audit

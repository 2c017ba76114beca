#include "evidence_export.hpp"

#include "libcmi/http_signature_crypto.hpp"
#include "libcmi/ossl.hpp"
#include "libcmi/origin_evidence.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>

namespace cmi::audit_tool {
namespace {

std::string read_checked(const audit::EvidenceStore& store, const std::string& sha256, std::uint64_t bytes) {
    std::string data = store.get(sha256);  // throws when missing or altered
    if (data.size() != bytes)
        throw std::runtime_error("evidence file " + store.path_of(sha256) + " has " + std::to_string(data.size()) +
                                 " bytes, the record says " + std::to_string(bytes));
    return data;
}

void write_file(const std::string& path, std::string_view data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
}

// A file name made of an item id: [A-Za-z0-9._-], others become '_'; unique
// among the items of the manifest.
std::string file_part(const std::string& id, std::set<std::string>& used) {
    std::string out;
    for (const char c : id.substr(0, 100))
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
    if (out.empty()) out = "_";
    std::string name = out;
    for (int n = 2; !used.insert(name).second; ++n) name = out + "-" + std::to_string(n);
    return name;
}

std::string content_hint(const EvidenceContext& ctx) {
    return ctx.digest.empty() ? "the uploaded file"
                              : "the uploaded file (the end record says its digest is " + ctx.digest + ")";
}

struct HttpSignature {
    std::string base, sig, keyid, key_der;
    bool has_base = false, has_sig = false, has_key = false;
};

ossl::Pkey evidence_key(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ossl::Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    if (!key) throw std::runtime_error("the http-signature-key evidence is not a DER public key");
    return key;
}

std::string key_pem(const std::string& der) {
    const ossl::Pkey key = evidence_key(der);
    const ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1)
        throw std::runtime_error("cannot write the public key as PEM");
    return ossl::bio_text(bio.get());
}

// The algorithm: the alg parameter of @signature-params, else the key's only one.
httpsig::Alg signature_alg(const std::string& base, const std::string& key_der) {
    std::optional<httpsig::Alg> declared;
    const auto params = base.rfind("\"@signature-params\": ");
    const auto at = params == std::string::npos ? params : base.find(";alg=\"", params);
    if (at != std::string::npos) {
        const auto end = base.find('"', at + 6);
        declared = httpsig::alg_from_name(base.substr(at + 6, end - at - 6));
    }
    return httpsig::resolve_alg(declared, evidence_key(key_der).get());
}

void export_http_signature(const HttpSignature& h, const EvidenceContext& ctx, std::ostream& how) {
    const std::string stem = ctx.out_dir + "/" + ctx.txid;
    const std::string base = stem + ".base", sig = stem + ".sig", keyid = stem + ".keyid", pub = stem + ".pub.pem";
    write_file(base, h.base);
    write_file(sig, h.sig);
    write_file(keyid, h.keyid + "\n");
    write_file(pub, key_pem(h.key_der));
    const httpsig::Alg alg = signature_alg(h.base, h.key_der);
    how << "RFC 9421 signature (" << httpsig::alg_name(alg) << ", keyid " << h.keyid << "):\n  " << base
        << "  the signature base, byte for byte as it was verified\n  " << sig << "  the signature\n  " << keyid
        << "  the keyid\n  " << pub << "  the public key that verified it\n";
    how << "  check: ";
    switch (alg) {
    case httpsig::Alg::ed25519:
        how << "openssl pkeyutl -verify -pubin -inkey " << pub << " -rawin -in " << base << " -sigfile " << sig;
        break;
    case httpsig::Alg::ecdsa_p256_sha256:
    case httpsig::Alg::ecdsa_p384_sha384: {
        const bool p256 = alg == httpsig::Alg::ecdsa_p256_sha256;
        const auto der = httpsig::raw_ecdsa_to_der(h.sig, p256 ? 32 : 48);
        if (!der) throw std::runtime_error("the ECDSA signature in the evidence is not r||s of the key's size");
        write_file(sig + ".der", *der);
        how << "openssl dgst -" << (p256 ? "sha256" : "sha384") << " -verify " << pub << " -signature " << sig
            << ".der " << base << "   (" << sig << ".der: the r||s signature in DER)";
        break;
    }
    case httpsig::Alg::rsa_pss_sha512:
        how << "openssl dgst -sha512 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:64 -verify " << pub
            << " -signature " << sig << " " << base;
        break;
    case httpsig::Alg::rsa_v1_5_sha256:
        how << "openssl dgst -sha256 -verify " << pub << " -signature " << sig << " " << base;
        break;
    }
    how << "\n  the key's SHA-256 (the record's sha256 of http-signature-key): openssl pkey -pubin -in " << pub
        << " -outform DER | sha256sum\n"
        << "  the content-digest line of the base is the digest of " << content_hint(ctx) << "\n";
    if (h.base.find("[redacted: ") != std::string::npos)
        how << "  NOTE: the base covered a credential or a query, kept only as its SHA-256 ([redacted: …]):\n"
               "  put the original value back in its place to verify the signature\n";
}

void export_items(const audit::EvidenceStore& store, const std::string& index_text, const EvidenceContext& ctx,
                  std::ostream& how) {
    const auto items = audit::parse_items_index(index_text);
    if (!items) throw std::runtime_error("the manifest-items evidence is not an item index");
    std::set<std::string> used;
    how << "manifest items, each a CMS SignedData (DER) over the staged file at its location:\n";
    for (const auto& item : *items) {
        const std::string path = ctx.out_dir + "/" + ctx.txid + "-" + file_part(item.id, used) + ".p7s";
        write_file(path, read_checked(store, item.sha256, item.bytes));
        how << "  item '" << item.id << "' (location " << item.location << "): " << path
            << "\n  check: openssl cms -verify -binary -inform DER -in " << path << " -content <the staged file "
            << item.location << "> -CAfile ca.pem -purpose any -out /dev/null\n";
    }
}

}  // namespace

std::optional<std::vector<audit::EvidenceFile>> evidence_of(const nlohmann::json& rec) {
    std::vector<audit::EvidenceFile> out;
    const auto list = rec.find("evidence");
    if (list == rec.end() || list->is_null()) return out;
    if (!list->is_array()) return std::nullopt;
    auto member = [](const nlohmann::json& e, const char* key) {
        const auto it = e.find(key);
        return it == e.end() ? nlohmann::json() : *it;
    };
    for (const auto& e : *list) {
        if (!e.is_object()) return std::nullopt;
        const auto kind = member(e, "kind"), name = member(e, "name"), sha = member(e, "sha256"),
                   bytes = member(e, "bytes");
        if (!kind.is_string() || !sha.is_string() || !bytes.is_number_unsigned() || !(name.is_null() || name.is_string()))
            return std::nullopt;
        audit::EvidenceFile f;
        f.kind = kind.get<std::string>();
        if (name.is_string()) f.name = name.get<std::string>();
        f.sha256 = sha.get<std::string>();
        f.bytes = bytes.get<std::uint64_t>();
        out.push_back(std::move(f));
    }
    return out;
}

std::size_t check_evidence(const audit::EvidenceStore& store, const std::vector<audit::EvidenceFile>& files) {
    std::size_t checked = 0;
    for (const audit::EvidenceFile& f : files) {
        const std::string data = read_checked(store, f.sha256, f.bytes);
        ++checked;
        if (f.kind != "manifest-items") continue;
        const auto items = audit::parse_items_index(data);
        if (!items) throw std::runtime_error("evidence file " + store.path_of(f.sha256) + " is not an item index");
        for (const auto& item : *items) {
            read_checked(store, item.sha256, item.bytes);
            ++checked;
        }
    }
    return checked;
}

void export_evidence(const audit::EvidenceStore& store, const std::vector<audit::EvidenceFile>& files,
                     const EvidenceContext& ctx, std::ostream& how) {
    HttpSignature h;
    for (const audit::EvidenceFile& f : files) {
        const std::string data = read_checked(store, f.sha256, f.bytes);
        if (f.kind == "cms") {
            const std::string path = ctx.out_dir + "/" + ctx.txid + ".p7s";
            write_file(path, data);
            how << "CMS SignedData (DER, with the signer's certificates) of CMI-Content-Signature: " << path
                << "\n  check: openssl cms -verify -binary -inform DER -in " << path << " -content <"
                << content_hint(ctx) << "> -CAfile ca.pem -purpose any -out /dev/null\n";
        } else if (f.kind == "http-signature-base") {
            h.base = data, h.has_base = true;
        } else if (f.kind == "http-signature") {
            h.sig = data, h.has_sig = true, h.keyid = f.name.value_or("");
        } else if (f.kind == "http-signature-key") {
            h.key_der = data, h.has_key = true;
        } else if (f.kind == "manifest") {
            const std::string path = ctx.out_dir + "/" + ctx.txid + ".manifest.xml";
            write_file(path, data);
            how << "the manifest as received, with its XML-DSig: " << path
                << "\n  check: xmlsec1 --verify --trusted-pem ca.pem " << path
                << "\n  (its items' Digest values are the staged files' digests: openssl dgst -sha256 -binary FILE | "
                   "base64)\n";
        } else if (f.kind == "manifest-items") {
            export_items(store, data, ctx, how);
        } else {
            how << "evidence of an unknown kind '" << f.kind << "' left in the store: " << store.path_of(f.sha256)
                << "\n";
        }
    }
    if (h.has_base || h.has_sig || h.has_key) {
        if (!(h.has_base && h.has_sig && h.has_key))
            throw std::runtime_error("the RFC 9421 evidence is incomplete (base, signature and key are needed)");
        export_http_signature(h, ctx, how);
    }
}

}  // namespace cmi::audit_tool

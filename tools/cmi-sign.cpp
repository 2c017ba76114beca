// cmi-sign: the client side of mod_cmi_content. Prints the request headers
// that make a Self-contained Upload verifiable:
//   cmi-sign cms  --cert C --key K [--md sha256|sha512] [--chain F] FILE
//   cmi-sign http --key K --keyid ID --url U [--alg A] [--method PUT]
//                 [--digest sha-256|sha-512] [--nonce N] [--component C]... FILE
//   cmi-sign manifest --cert C --key K [--md sha256|sha512] [--chain F]
//                 [--sign-manifest] [--no-cms] --root DIR FILE...   (Decoupled Upload)
// The file is streamed, never read into memory at once.
#include "libcmi/base64.hpp"
#include "libcmi/digest.hpp"
#include "libcmi/http_signature.hpp"
#include "libcmi/http_signature_crypto.hpp"
#include "libcmi/ossl.hpp"
#include "libcmi/structured_field.hpp"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Args = std::multimap<std::string, std::string>;

[[noreturn]] void usage() {
    std::cerr << "usage: cmi-sign cms --cert CERT.pem --key KEY.pem [--md sha256|sha512] [--chain CHAIN.pem] FILE\n"
                 "       cmi-sign http --key KEY.pem --keyid ID --url URL [--alg ALG] [--method PUT]\n"
                 "                     [--digest sha-256|sha-512] [--nonce N] [--component C]... FILE\n"
                 "       cmi-sign manifest --cert CERT.pem --key KEY.pem [--md sha256|sha512] [--chain CHAIN.pem]\n"
                 "                     [--sign-manifest] [--no-cms] --root DIR FILE...\n"
                 "ALG: ed25519 ecdsa-p256-sha256 ecdsa-p384-sha384 rsa-pss-sha512 rsa-v1_5-sha256\n";
    std::exit(2);
}

std::string one(const Args& a, const std::string& k, const char* dflt = nullptr) {
    auto it = a.find(k);
    if (it != a.end()) return it->second;
    if (dflt) return dflt;
    std::cerr << "cmi-sign: --" << k << " is required\n";
    usage();
}

std::string openssl_error(const std::string& what) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    return what + ": " + buf;
}

}  // namespace

// Also for `cmi-sign manifest --sign-manifest`: the first certificate of a PEM file.
cmi::ossl::UniquePtr<X509> read_certificate(const std::string& pem_file) {
    const cmi::ossl::UniquePtr<BIO> b(BIO_new_file(pem_file.c_str(), "r"));
    return cmi::ossl::UniquePtr<X509>(b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr);
}

// Also used by `cmi-sign manifest` (tools/cmi_sign_manifest.cpp): base64 of a
// detached CMS over the file, options --cert --key [--md] [--chain].
std::string cms_signature_base64(const std::multimap<std::string, std::string>& a, const std::string& file) {
    const std::string md_name = one(a, "md", "sha256");
    const EVP_MD* md = md_name == "sha256" ? EVP_sha256() : md_name == "sha512" ? EVP_sha512() : nullptr;
    if (!md) throw std::runtime_error("--md must be sha256 or sha512");
    const cmi::ossl::UniquePtr<X509> cert = read_certificate(one(a, "cert"));
    if (!cert) throw std::runtime_error(openssl_error("cannot read the certificate"));
    const cmi::ossl::Pkey key = cmi::httpsig::load_private_key(one(a, "key"));
    if (!key) throw std::runtime_error("cannot read the private key");
    cmi::ossl::UniquePtr<STACK_OF(X509)> chain;
    if (a.count("chain")) {
        chain.reset(sk_X509_new_null());
        const cmi::ossl::UniquePtr<BIO> b(BIO_new_file(one(a, "chain").c_str(), "r"));
        while (X509* c = b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr) sk_X509_push(chain.get(), c);
        ERR_clear_error();
    }
    const cmi::ossl::UniquePtr<BIO> in(BIO_new_file(file.c_str(), "rb"));
    if (!in) throw std::runtime_error("cannot read " + file);
    const unsigned flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
    const cmi::ossl::UniquePtr<CMS_ContentInfo> cms(CMS_sign(nullptr, nullptr, chain.get(), nullptr, flags));
    if (!cms || !CMS_add1_signer(cms.get(), cert.get(), key.get(), md, flags) ||
        CMS_final(cms.get(), in.get(), nullptr, flags) != 1)
        throw std::runtime_error(openssl_error("CMS signing failed"));
    const std::string der = cmi::ossl::to_der(i2d_CMS_ContentInfo, cms.get());
    if (der.empty()) throw std::runtime_error(openssl_error("CMS encoding failed"));
    return cmi::base64_encode(der);
}

namespace {

std::string sign_cms(const Args& a, const std::string& file) {
    return "CMI-Content-Signature: " + cms_signature_base64(a, file) + "\n";
}

cmi::httpsig::Request parse_url(const std::string& method, const std::string& url) {
    cmi::httpsig::Request r;
    r.method = method;
    const size_t colon = url.find("://");
    if (colon == std::string::npos) throw std::runtime_error("--url must be absolute, e.g. https://host/path");
    r.scheme = url.substr(0, colon);
    const std::string rest = url.substr(colon + 3);
    const size_t slash = rest.find_first_of("/?");
    r.authority = rest.substr(0, slash);
    std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) {
        r.has_query = true;
        r.query = target.substr(q + 1);
    }
    return r;
}

std::string sign_http(const Args& a, const std::string& file) {
    const auto digest_alg = cmi::digest_alg_from_name(one(a, "digest", "sha-256"));
    if (!digest_alg) throw std::runtime_error("--digest must be sha-256 or sha-512");
    cmi::StreamingDigest d(*digest_alg);
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + file);
    std::vector<char> buf(1 << 16);
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
        d.update(buf.data(), static_cast<size_t>(in.gcount()));
    const std::string content_digest = cmi::content_digest_member(*digest_alg, d.finish());

    const cmi::ossl::Pkey key = cmi::httpsig::load_private_key(one(a, "key"));
    if (!key) throw std::runtime_error("cannot read the private key");
    std::optional<cmi::httpsig::Alg> alg;
    if (a.count("alg")) {
        alg = cmi::httpsig::alg_from_name(one(a, "alg"));
        if (!alg) throw std::runtime_error("unknown --alg " + one(a, "alg"));
    }
    const cmi::httpsig::Alg use = cmi::httpsig::resolve_alg(alg, key.get());

    // By default the signature covers the method, the target and the digest
    // (the server requires all three), so the URL is needed; with --component
    // the caller names what is covered, and only derived components need it.
    const bool have_url = a.count("url") > 0;
    auto range = a.equal_range("component");
    if (!have_url && range.first == range.second)
        throw std::runtime_error("--url is required: the signature covers the request's target (\"@target-uri\"), "
                                 "so give the URL the request goes to");
    const std::string method = one(a, "method", "PUT");
    cmi::httpsig::Request rq = have_url ? parse_url(method, one(a, "url")) : cmi::httpsig::Request();
    rq.method = method;
    rq.field = [&](const std::string& name) -> std::optional<std::string> {
        if (name == "content-digest") return content_digest;
        return std::nullopt;
    };
    cmi::sf::InnerList list;
    if (range.first == range.second) {
        list.items.push_back({cmi::sf::String{"@method"}, {}});
        list.items.push_back({cmi::sf::String{"@target-uri"}, {}});
        list.items.push_back({cmi::sf::String{"content-digest"}, {}});
    }
    for (auto it = range.first; it != range.second; ++it) {
        const std::string& c = it->second;
        if (!have_url && c.size() > 1 && c[0] == '@' && c != "@method")
            throw std::runtime_error("--component " + c + " needs --url (the request's URL)");
        list.items.push_back({cmi::sf::String{c}, {}});
    }
    list.params.emplace_back("created", static_cast<int64_t>(std::time(nullptr)));
    if (a.count("nonce")) list.params.emplace_back("nonce", cmi::sf::String{one(a, "nonce")});
    list.params.emplace_back("keyid", cmi::sf::String{one(a, "keyid")});
    list.params.emplace_back("alg", cmi::sf::String{cmi::httpsig::alg_name(use)});

    cmi::httpsig::Params p;
    for (const auto& item : list.items) p.components.push_back(std::get<cmi::sf::String>(item.value).value);
    p.serialized = cmi::sf::serialize(list);
    const std::string base = cmi::httpsig::signature_base(p, rq);
    const std::string sig = cmi::httpsig::sign_base(use, key.get(), base);
    return "Content-Digest: " + content_digest + "\nSignature-Input: sig1=" + p.serialized +
           "\nSignature: sig1=:" + cmi::base64_encode(sig) + ":\n";
}

}  // namespace

int cmi_sign_manifest(int argc, char** argv);

int main(int argc, char** argv) {
    if (argc < 3) usage();
    const std::string mode = argv[1];
    if (mode == "manifest") return cmi_sign_manifest(argc - 2, argv + 2);
    Args args;
    std::string file;
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) == 0) {
            if (i + 1 >= argc) usage();
            args.emplace(s.substr(2), argv[++i]);
        } else if (file.empty()) {
            file = s;
        } else {
            usage();
        }
    }
    if (file.empty()) usage();
    try {
        if (mode == "cms") std::cout << sign_cms(args, file);
        else if (mode == "http") std::cout << sign_http(args, file);
        else usage();
    } catch (const std::exception& e) {
        std::cerr << "cmi-sign: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

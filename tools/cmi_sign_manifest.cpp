// `cmi-sign manifest`: a Decoupled Upload manifest (docs/architecture.md §Content formats) for files
// already staged under --root. For each FILE (a path relative to --root, or
// under it) an item with its digest and a detached CMS signed hash; with
// --sign-manifest also an enveloped XML-DSig over the whole manifest.
// --no-cms leaves out the per-item CMS (then --sign-manifest is required).
// Files are streamed; the manifest goes to stdout.
#include "libcmi/base64.hpp"
#include "libcmi/digest.hpp"
#include "libcmi/http_signature_crypto.hpp"
#include "libcmi/ossl.hpp"
#include "libcmi/manifest.hpp"
#include "libcmi/manifest_xmldsig.hpp"
#include "libcmi/staged_digest.hpp"
#include "libcmi/staging_path.hpp"

#include <openssl/pem.h>

#include <fcntl.h>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

std::string cms_signature_base64(const std::multimap<std::string, std::string>& a, const std::string& file);
cmi::ossl::UniquePtr<X509> read_certificate(const std::string& pem_file);

namespace {

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

// The location of FILE relative to the root, checked by the server's own rules.
std::string location_of(std::string root, std::string file) {
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    if (!file.empty() && file.front() == '/') {
        if (file.compare(0, root.size() + 1, root + "/") != 0)
            throw std::runtime_error(file + " is not under --root " + root);
        file = file.substr(root.size() + 1);
    }
    if (const std::string why = cmi::staging_path_syntax_error(file); !why.empty())
        throw std::runtime_error(file + ": " + why);
    return file;
}

std::string one(const std::multimap<std::string, std::string>& a, const char* k) {
    auto it = a.find(k);
    if (it == a.end()) throw std::runtime_error(std::string("--") + k + " is required");
    return it->second;
}

}  // namespace

int cmi_sign_manifest(int argc, char** argv) {
    std::multimap<std::string, std::string> args;
    std::vector<std::string> files;
    bool sign_manifest = false, cms = true;
    try {
        for (int i = 0; i < argc; ++i) {
            const std::string s = argv[i];
            if (s == "--sign-manifest") sign_manifest = true;
            else if (s == "--no-cms") cms = false;
            else if (s.rfind("--", 0) == 0) {
                if (i + 1 >= argc) throw std::runtime_error(s + " needs a value");
                args.emplace(s.substr(2), argv[++i]);
            } else files.push_back(s);
        }
        if (files.empty()) throw std::runtime_error("name at least one staged FILE");
        if (!cms && !sign_manifest) throw std::runtime_error("--no-cms needs --sign-manifest: nothing would vouch for the items");
        const std::string root = one(args, "root");
        auto md = args.find("md");
        const cmi::DigestAlg alg =
            md == args.end() || md->second == "sha256" ? cmi::DigestAlg::sha256 : cmi::DigestAlg::sha512;
        if (md != args.end() && md->second != "sha256" && md->second != "sha512")
            throw std::runtime_error("--md must be sha256 or sha512");

        std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Manifest xmlns=\"" +
                          std::string(cmi::kManifestNamespace) + "\">\n";
        for (const std::string& f : files) {
            const std::string loc = location_of(root, f);
            // The same walk as the server: a symlink or '..' fails here already.
            cmi::StagedFile sf = cmi::open_staged(root, "", loc);
            const cmi::StagedDigests d = cmi::digest_staged(sf.fd(), {alg});
            xml += "  <ContentItem id=\"" + xml_escape(loc) + "\">\n    <Location>" + xml_escape(loc) +
                   "</Location>\n    <Digest algorithm=\"" + cmi::digest_alg_name(alg) + "\">" +
                   cmi::base64_encode(*d.find(alg)) + "</Digest>\n";
            if (cms)
                xml += "    <SignedHash format=\"cms\">" + cms_signature_base64(args, root + "/" + loc) + "</SignedHash>\n";
            xml += "  </ContentItem>\n";
        }
        xml += "</Manifest>\n";
        if (sign_manifest) {
            cmi::xmldsig_init();
            const cmi::ossl::UniquePtr<X509> cert = read_certificate(one(args, "cert"));
            if (!cert) throw std::runtime_error("cannot read the certificate");
            const cmi::ossl::Pkey key = cmi::httpsig::load_private_key(one(args, "key"));
            if (!key) throw std::runtime_error("cannot read the private key");
            xml = cmi::sign_manifest_xmldsig(xml, key.get(), cert.get());
        }
        std::cout << xml;
    } catch (const std::exception& e) {
        std::cerr << "cmi-sign manifest: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

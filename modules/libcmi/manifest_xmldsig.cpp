#include "libcmi/manifest_xmldsig.hpp"

#include "libcmi/base64.hpp"
#include "libcmi/ossl.hpp"
#include "libcmi/signer_chain.hpp"
#include "libcmi/x509_name.hpp"

#include <libxml/tree.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/crypto.h>
#include <xmlsec/keys.h>
#include <xmlsec/list.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/templates.h>
#include <xmlsec/openssl/evp.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <vector>

namespace cmi {
namespace {

constexpr const char* kDsigNs = "http://www.w3.org/2000/09/xmldsig#";

[[noreturn]] void malformed(const std::string& why) {
    throw ValidationError("signature-malformed", "manifest signature: " + why);
}

bool is_dsig(xmlNodePtr n, const char* name) {
    return n->type == XML_ELEMENT_NODE && n->ns && xmlStrEqual(n->ns->href, BAD_CAST kDsigNs) &&
           xmlStrEqual(n->name, BAD_CAST name);
}

void find_all(xmlNodePtr n, const char* name, std::vector<xmlNodePtr>& out) {
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (is_dsig(n, name)) out.push_back(n);
        find_all(n->children, name, out);
    }
}

std::vector<xmlNodePtr> children(xmlNodePtr n, const char* name) {
    std::vector<xmlNodePtr> out;
    for (xmlNodePtr c = n ? n->children : nullptr; c; c = c->next)
        if (is_dsig(c, name)) out.push_back(c);
    return out;
}

using X509Ptr = ossl::UniquePtr<X509>;
struct DsigCtxFree {
    void operator()(xmlSecDSigCtxPtr c) const { xmlSecDSigCtxDestroy(c); }
};

std::vector<X509Ptr> carried_certs(xmlNodePtr sig, size_t max_certs) {
    std::vector<X509Ptr> out;
    for (xmlNodePtr ki : children(sig, "KeyInfo"))
        for (xmlNodePtr xd : children(ki, "X509Data"))
            for (xmlNodePtr xc : children(xd, "X509Certificate")) {
                if (out.size() >= max_certs)
                    malformed("more than " + std::to_string(max_certs) +
                              " certificates in KeyInfo (CMIManifestMaxKeyInfoCertificates)");
                xmlChar* c = xmlNodeGetContent(xc);
                std::string text = c ? reinterpret_cast<const char*>(c) : "";
                xmlFree(c);
                std::string b64;
                for (char ch : text)
                    if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') b64 += ch;
                const auto der = base64_decode(b64);
                if (!der) malformed("an X509Certificate is not base64");
                const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
                X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der->size())));
                if (!x) {
                    ERR_clear_error();
                    malformed("an X509Certificate is not a DER certificate");
                }
                out.push_back(std::move(x));
            }
    if (out.empty()) malformed("KeyInfo carries no X509Certificate");
    return out;
}

void enable(xmlSecDSigCtxPtr ctx) {
    ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
    ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
    const xmlSecTransformId sig[] = {
        xmlSecTransformInclC14NId, xmlSecTransformExclC14NId, xmlSecTransformInclC14N11Id,
        xmlSecTransformRsaSha256Id, xmlSecTransformRsaSha384Id, xmlSecTransformRsaSha512Id,
        xmlSecTransformEcdsaSha256Id, xmlSecTransformEcdsaSha384Id, xmlSecTransformEcdsaSha512Id,
    };
    const xmlSecTransformId ref[] = {
        xmlSecTransformEnvelopedId, xmlSecTransformInclC14NId, xmlSecTransformExclC14NId,
        xmlSecTransformInclC14N11Id, xmlSecTransformSha256Id, xmlSecTransformSha384Id, xmlSecTransformSha512Id,
    };
    for (auto id : sig)
        if (xmlSecDSigCtxEnableSignatureTransform(ctx, id) < 0) throw std::runtime_error("xmlsec: cannot enable a transform");
    for (auto id : ref)
        if (xmlSecDSigCtxEnableReferenceTransform(ctx, id) < 0) throw std::runtime_error("xmlsec: cannot enable a transform");
}

// `key` as an xmlsec key, which owns it from then on; nullptr when xmlsec
// cannot take the key's type.
xmlSecKeyPtr xmlsec_key(ossl::Pkey key) {
    xmlSecKeyDataPtr data = xmlSecOpenSSLEvpKeyAdopt(key.get());
    if (!data) return nullptr;
    key.release();  // data owns it
    xmlSecKeyPtr k = xmlSecKeyCreate();
    if (!k || xmlSecKeySetValue(k, data) < 0) {
        if (k) xmlSecKeyDestroy(k);
        xmlSecKeyDataDestroy(data);
        throw std::runtime_error("xmlsec: cannot make a key");
    }
    return k;
}

// A signature context with `key` preset: KeyInfo is never used to find (or fetch) one.
std::unique_ptr<xmlSecDSigCtx, DsigCtxFree> context_with(xmlSecKeyPtr key) {
    std::unique_ptr<xmlSecDSigCtx, DsigCtxFree> ctx(xmlSecDSigCtxCreate(nullptr));
    if (!ctx) {
        xmlSecKeyDestroy(key);
        throw std::runtime_error("xmlsec: cannot create a signature context");
    }
    ctx->signKey = key;
    return ctx;
}

// True when `cert`'s key verifies the signature.
bool verifies_with(xmlNodePtr sig, X509* cert) {
    ossl::Pkey pk(X509_get_pubkey(cert));
    if (!pk) {
        ERR_clear_error();
        return false;
    }
    xmlSecKeyPtr key = xmlsec_key(std::move(pk));
    if (!key) return false;
    const auto ctx = context_with(key);
    enable(ctx.get());
    const int rc = xmlSecDSigCtxVerify(ctx.get(), sig);
    ERR_clear_error();
    return rc == 0 && ctx->status == xmlSecDSigStatusSucceeded;
}

}  // namespace

void xmldsig_init() {
    xmlSecPtrListPtr ids = xmlSecTransformIdsGet();
    if (xmlSecPtrListIsValid(ids) && xmlSecPtrListGetSize(ids) > 0 && xmlSecTransformIdListFind(ids, xmlSecTransformRsaSha256Id)) return;
    if (xmlSecInit() < 0) throw std::runtime_error("xmlsec initialisation failed");
    if (xmlSecCheckVersion() != 1) throw std::runtime_error("xmlsec library version mismatch");
    if (xmlSecCryptoAppInit(nullptr) < 0) throw std::runtime_error("xmlsec crypto initialisation failed");
    if (xmlSecCryptoInit() < 0) throw std::runtime_error("xmlsec-openssl initialisation failed");
}

std::string sign_manifest_xmldsig(const std::string& xml, EVP_PKEY* key, X509* cert) {
    ManifestLimits lim;
    lim.max_size = static_cast<size_t>(1) << 30;
    lim.max_nodes = 1u << 30;
    auto doc = parse_manifest(xml, lim);
    xmlNodePtr root = xmlDocGetRootElement(doc->doc());
    const xmlSecTransformId alg =
        EVP_PKEY_base_id(key) == EVP_PKEY_EC ? xmlSecTransformEcdsaSha256Id : xmlSecTransformRsaSha256Id;
    xmlNodePtr sig = xmlSecTmplSignatureCreateNsPref(doc->doc(), xmlSecTransformExclC14NId, alg, nullptr, BAD_CAST "ds");
    if (!sig) throw std::runtime_error("xmlsec: cannot create a signature template");
    xmlAddChild(root, sig);
    xmlNodePtr ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, nullptr, BAD_CAST "", nullptr);
    if (!ref || !xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) ||
        !xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId))
        throw std::runtime_error("xmlsec: cannot build the reference");

    EVP_PKEY_up_ref(key);
    xmlSecKeyPtr k = xmlsec_key(ossl::Pkey(key));
    if (!k) throw std::runtime_error("xmlsec: unsupported key");
    const auto ctx = context_with(k);
    if (xmlSecDSigCtxSign(ctx.get(), sig) < 0) throw std::runtime_error("xmlsec: signing failed");

    // KeyInfo is outside SignedInfo (and removed by the enveloped transform).
    const std::string der = ossl::to_der(i2d_X509, cert);
    if (der.empty()) throw std::runtime_error("cannot encode the signer certificate");
    const std::string b64 = base64_encode(der);
    xmlNodePtr ki = xmlSecTmplSignatureEnsureKeyInfo(sig, nullptr);
    xmlNodePtr xd = ki ? xmlSecTmplKeyInfoAddX509Data(ki) : nullptr;
    xmlNodePtr xc = xd ? xmlSecTmplX509DataAddCertificate(xd) : nullptr;
    if (!xc) throw std::runtime_error("xmlsec: cannot add KeyInfo");
    xmlNodeSetContent(xc, BAD_CAST b64.c_str());

    xmlChar* out = nullptr;
    int len = 0;
    xmlDocDumpMemoryEnc(doc->doc(), &out, &len, "UTF-8");
    if (!out) throw std::runtime_error("cannot serialise the signed manifest");
    std::string s(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    xmlFree(out);
    return s;
}

bool manifest_has_signature(const ManifestDoc& doc) {
    std::vector<xmlNodePtr> sigs;
    find_all(xmlDocGetRootElement(doc.doc()), "Signature", sigs);
    return !sigs.empty();
}

ManifestSignature verify_manifest_signature(ManifestDoc& doc, const SignerPolicy& signers, std::time_t at,
                                            size_t max_certs) {
    xmlNodePtr root = xmlDocGetRootElement(doc.doc());
    std::vector<xmlNodePtr> sigs;
    find_all(root, "Signature", sigs);
    if (sigs.empty()) return {};
    if (sigs.size() > 1) malformed("more than one ds:Signature");
    xmlNodePtr sig = sigs[0];
    if (sig->parent != root) malformed("the ds:Signature must be a child of the root element (enveloped)");

    const auto signed_info = children(sig, "SignedInfo");
    if (signed_info.size() != 1) malformed("exactly one SignedInfo is required");
    const auto refs = children(signed_info[0], "Reference");
    xmlChar* uri = refs.size() == 1 ? xmlGetNoNsProp(refs[0], BAD_CAST "URI") : nullptr;
    const bool whole = uri && uri[0] == 0;
    xmlFree(uri);
    if (!whole) malformed("the signature must cover the whole manifest: one Reference with URI=\"\"");
    if (!children(sig, "Object").empty()) malformed("ds:Object is not allowed in a manifest signature");

    std::vector<X509Ptr> certs = carried_certs(sig, max_certs);
    X509* signer = nullptr;
    for (const auto& c : certs)
        if (verifies_with(sig, c.get())) {
            signer = c.get();
            break;
        }
    if (!signer) throw ValidationError("signature-invalid", "the manifest signature does not verify");

    ossl::UniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
    if (!untrusted) throw std::runtime_error("out of memory");
    for (const auto& c : certs)
        if (c.get() != signer && X509_add_cert(untrusted.get(), c.get(), X509_ADD_FLAG_UP_REF) != 1)
            throw std::runtime_error("out of memory");
    verify_signer_chain(signer, untrusted.get(), signers, at);

    ManifestSignature out{true, subject_cn(signer), subject_dn(signer), signer_variables(signer)};
    // From here on the document is exactly what the enveloped transform signed.
    xmlUnlinkNode(sig);
    xmlFreeNode(sig);
    return out;
}

}  // namespace cmi

// Decoupled Upload: items against staged content, CMS signed hashes and
// enveloped XML-DSig manifests, including signature-wrapping attempts.
#include "libcmi/base64.hpp"
#include "libcmi/manifest_verify.hpp"
#include "libcmi/manifest_xmldsig.hpp"

#include "test_pki.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cmi;

namespace {

std::string b64digest(const std::string& body) { return base64_encode(digest_of(DigestAlg::sha256, body)); }

std::string manifest(const std::string& items) {
    return "<Manifest xmlns=\"urn:mod-cmi:manifest:1\">" + items + "</Manifest>";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const size_t at = s.find(from);
    CPPUNIT_ASSERT(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

}  // namespace

class ManifestVerifyTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ManifestVerifyTest);
    CPPUNIT_TEST(cms_items);
    CPPUNIT_TEST(unsigned_digest_is_not_enough);
    CPPUNIT_TEST(xmldsig_trusted_and_untrusted);
    CPPUNIT_TEST(xmldsig_wrapping_refused);
    CPPUNIT_TEST(mixed_items_all_reported);
    CPPUNIT_TEST(bind_signer);
    CPPUNIT_TEST(each_distinct_file_read_once);
    CPPUNIT_TEST(work_is_bounded);
    CPPUNIT_TEST(snapshots_move_and_go_back);
    CPPUNIT_TEST(snapshots_copy_and_links);
    CPPUNIT_TEST(sweep_after_a_crash);
    CPPUNIT_TEST(items_field_keeps_text_and_paths);
    CPPUNIT_TEST_SUITE_END();

    std::string dir_, anchors_path_;
    testpki::Cred ca_, rogue_ca_, signer_, rogue_;
    std::unique_ptr<TrustAnchors> anchors_;
    ManifestPolicy policy_;

    void stage(const std::string& rel, const std::string& data) {
        const std::string path = dir_ + "/root/" + rel;
        for (size_t at = path.find('/', dir_.size() + 6); at != std::string::npos; at = path.find('/', at + 1))
            mkdir(path.substr(0, at).c_str(), 0755);
        std::ofstream(path, std::ios::binary) << data;
    }
    std::string cms_item(const std::string& id, const std::string& loc, const std::string& body,
                         const testpki::Cred* who = nullptr) {
        return "<ContentItem id=\"" + id + "\"><Location>" + loc + "</Location><SignedHash format=\"cms\">" +
               base64_encode(testpki::cms_sign(body, who ? *who : signer_)) + "</SignedHash></ContentItem>";
    }
    std::string digest_item(const std::string& id, const std::string& loc, const std::string& body) {
        return "<ContentItem id=\"" + id + "\"><Location>" + loc + "</Location><Digest algorithm=\"sha-256\">" +
               b64digest(body) + "</Digest></ContentItem>";
    }
    std::string dsig(const std::string& xml, const testpki::Cred& who) {
        return sign_manifest_xmldsig(xml, who.key.get(), who.cert.get());
    }
    ManifestVerdict verify(const std::string& xml) {
        auto doc = parse_manifest(xml, {});
        return verify_manifest(*doc, default_manifest_paths(), policy_);
    }
    std::string read(const std::string& path) {
        std::ifstream f(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(f), {});
    }
    bool exists(const std::string& path) {
        struct stat st;
        return lstat(path.c_str(), &st) == 0;
    }
    std::string snaps() {
        mkdir((dir_ + "/snaps").c_str(), 0700);
        return dir_ + "/snaps";
    }
    std::string whole_code(const std::string& xml) {
        try {
            const ManifestVerdict v = verify(xml);
            const ItemResult* f = v.first_failure();
            return f ? std::string("item:") + f->code : "ok";
        } catch (const ValidationError& e) {
            return e.code;
        }
    }

public:
    void setUp() override {
        xmldsig_init();
        char tmpl[] = "/tmp/cmi-unit-mverify-XXXXXX";
        dir_ = mkdtemp(tmpl);
        mkdir((dir_ + "/root").c_str(), 0755);
        ca_ = testpki::make_ca("unit CA", -60);
        rogue_ca_ = testpki::make_ca("rogue CA");
        signer_ = testpki::issue(ca_, "provider-a");
        rogue_ = testpki::issue(rogue_ca_, "provider-a");
        anchors_path_ = testpki::write_pem("manchors", ca_.cert.get());
        anchors_ = std::make_unique<TrustAnchors>(anchors_path_);
        policy_ = ManifestPolicy{};
        policy_.anchors = anchors_.get();
        policy_.root = dir_ + "/root";
        stage("a/one.bin", "first item");
        stage("a/two.bin", std::string(300000, 'x'));
    }
    void tearDown() override {
        std::remove(anchors_path_.c_str());
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    void cms_items() {
        const ManifestVerdict v = verify(manifest(cms_item("one", "a/one.bin", "first item") +
                                                  cms_item("two", "a/two.bin", std::string(300000, 'x'))));
        CPPUNIT_ASSERT(!v.first_failure());
        CPPUNIT_ASSERT_EQUAL(size_t(2), v.items.size());
        CPPUNIT_ASSERT_EQUAL(std::string("provider-a"), v.items[0].signer);
        CPPUNIT_ASSERT(v.items[1].digest == digest_of(DigestAlg::sha256, std::string(300000, 'x')));
        CPPUNIT_ASSERT_EQUAL(300000ULL, v.items[1].bytes);
        // changed after signing, truncated, missing, untrusted, garbage
        CPPUNIT_ASSERT_EQUAL(std::string("item:digest-mismatch"),
                             whole_code(manifest(cms_item("one", "a/one.bin", "first item!"))));
        stage("a/two.bin", std::string(1000, 'x'));
        CPPUNIT_ASSERT_EQUAL(std::string("item:digest-mismatch"),
                             whole_code(manifest(cms_item("two", "a/two.bin", std::string(300000, 'x')))));
        CPPUNIT_ASSERT_EQUAL(std::string("item:content-missing"),
                             whole_code(manifest(cms_item("n", "a/none.bin", "first item"))));
        CPPUNIT_ASSERT_EQUAL(std::string("item:signer-untrusted"),
                             whole_code(manifest(cms_item("one", "a/one.bin", "first item", &rogue_))));
        CPPUNIT_ASSERT_EQUAL(std::string("item:signature-malformed"),
                             whole_code(manifest("<ContentItem id=\"g\"><Location>a/one.bin</Location>"
                                                 "<SignedHash>AAAA</SignedHash></ContentItem>")));
        // a file outside the root whose digest would match is never read
        std::ofstream(dir_ + "/outside.bin") << "first item";
        CPPUNIT_ASSERT_EQUAL(std::string("item:manifest-malformed"),
                             whole_code(manifest(cms_item("o", "../outside.bin", "first item"))));
        CPPUNIT_ASSERT_EQUAL(0, symlink((dir_ + "/outside.bin").c_str(), (dir_ + "/root/a/link.bin").c_str()));
        CPPUNIT_ASSERT_EQUAL(std::string("item:forbidden"),
                             whole_code(manifest(cms_item("o", "a/link.bin", "first item"))));
        // no anchors configured: a configuration error, not a client error
        policy_.anchors = nullptr;
        CPPUNIT_ASSERT_THROW(verify(manifest(cms_item("one", "a/one.bin", "first item"))), std::logic_error);
    }

    void unsigned_digest_is_not_enough() {
        CPPUNIT_ASSERT_EQUAL(std::string("item:signature-required"),
                             whole_code(manifest(digest_item("one", "a/one.bin", "first item"))));
        CPPUNIT_ASSERT_EQUAL(std::string("item:signature-required"),
                             whole_code(manifest("<ContentItem id=\"x\"><Location>a/one.bin</Location></ContentItem>")));
    }

    void xmldsig_trusted_and_untrusted() {
        const std::string plain = manifest(digest_item("one", "a/one.bin", "first item") +
                                           digest_item("two", "a/two.bin", std::string(300000, 'x')));
        const std::string signed_xml = dsig(plain, signer_);
        const ManifestVerdict v = verify(signed_xml);
        CPPUNIT_ASSERT(!v.first_failure());
        CPPUNIT_ASSERT(v.signed_manifest);
        CPPUNIT_ASSERT_EQUAL(std::string("provider-a"), v.manifest_signer);
        CPPUNIT_ASSERT_EQUAL(std::string("provider-a"), v.items[1].signer);
        CPPUNIT_ASSERT_EQUAL(std::string("signer-untrusted"), whole_code(dsig(plain, rogue_)));
        // the signed digest still has to match the staged bytes
        stage("a/one.bin", "first item, edited");
        CPPUNIT_ASSERT_EQUAL(std::string("item:digest-mismatch"), whole_code(signed_xml));
    }

    void xmldsig_wrapping_refused() {
        const std::string plain = manifest(digest_item("one", "a/one.bin", "first item"));
        const std::string s = dsig(plain, signer_);
        // an extra, unsigned item
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"),
                             whole_code(replace(s, "<ContentItem ", digest_item("evil", "a/two.bin", std::string(300000, 'x')) + "<ContentItem ")));
        // the signed item's location changed
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), whole_code(replace(s, "a/one.bin", "a/two.bin")));
        // the signed item moved into the Signature (an Object) and a new one in its place
        const size_t a = s.find("<ContentItem"), b = s.find("</ContentItem>") + 14;
        const std::string item = s.substr(a, b - a);
        std::string moved = s;
        moved.erase(a, b - a);
        moved = replace(moved, "</ds:Signature>", "<ds:Object>" + item + "</ds:Object></ds:Signature>");
        CPPUNIT_ASSERT(whole_code(moved) != "ok");
        // a duplicated id next to the signed one
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), whole_code(replace(s, "</ds:Signature>", "</ds:Signature>" + item)));
        // two signatures; a signature not under the root element; a Reference to an id
        const size_t sa = s.find("<ds:Signature"), sb = s.find("</ds:Signature>") + 15;
        const std::string sig = s.substr(sa, sb - sa);
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), whole_code(replace(s, "</Manifest>", sig + "</Manifest>")));
        std::string nested = s;
        nested.erase(sa, sb - sa);
        nested = replace(nested, "</ContentItem>", sig + "</ContentItem>");
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), whole_code(nested));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), whole_code(replace(s, "URI=\"\"", "URI=\"#one\"")));
        // a signature whose certificate was swapped for another trusted one
        const testpki::Cred other = testpki::issue(ca_, "provider-b");
        const std::string other_signed = dsig(plain, other);
        const size_t ca0 = other_signed.find("<ds:X509Certificate>"), ca1 = other_signed.find("</ds:X509Certificate>");
        const size_t sa0 = s.find("<ds:X509Certificate>"), sa1 = s.find("</ds:X509Certificate>");
        std::string swapped = s;
        swapped.replace(sa0, sa1 - sa0, other_signed.substr(ca0, ca1 - ca0));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-invalid"), whole_code(swapped));
    }

    void mixed_items_all_reported() {
        std::string items;
        for (int i = 0; i < 5; ++i) {
            const std::string body = "item " + std::to_string(i);
            stage("m/" + std::to_string(i), i == 3 ? "tampered" : body);
            items += cms_item("i" + std::to_string(i), "m/" + std::to_string(i), body);
        }
        const ManifestVerdict v = verify(manifest(items));
        CPPUNIT_ASSERT_EQUAL(size_t(5), v.items.size());
        for (int i = 0; i < 5; ++i) CPPUNIT_ASSERT_EQUAL(i == 3, v.items[static_cast<size_t>(i)].code != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("digest-mismatch"), std::string(v.first_failure()->code));
        CPPUNIT_ASSERT_EQUAL(std::string("i3"), v.first_failure()->id);
        const std::string sf = items_structured_field(v);
        CPPUNIT_ASSERT(sf.find("\"i0\";result=valid;location=\"m/0\";alg=sha-256;digest=:" +
                               b64digest("item 0") + ":, \"i1\"") == 0);
        CPPUNIT_ASSERT(sf.find("\"i3\";result=digest-mismatch;location=\"m/3\"") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("\"i0\";result=valid, \"i1\";result=valid, \"i2\";result=valid, "
                                         "\"i3\";result=digest-mismatch, \"i4\";result=valid"),
                             items_structured_field(v, true));
        const std::string js = items_problem_extension(v);
        CPPUNIT_ASSERT(js.find(R"({"items":[{"id":"i0","result":"valid"},)") == 0);
        CPPUNIT_ASSERT(js.find(R"({"id":"i3","result":"invalid","code":"digest-mismatch","detail":"item 'i3': )") !=
                       std::string::npos);
    }

    void bind_signer() {
        policy_.bind_signer = true;
        policy_.user = "provider-a";
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), whole_code(manifest(cms_item("one", "a/one.bin", "first item"))));
        policy_.user = "provider-b";
        CPPUNIT_ASSERT_EQUAL(std::string("item:signer-not-bound"),
                             whole_code(manifest(cms_item("one", "a/one.bin", "first item"))));
        CPPUNIT_ASSERT_EQUAL(std::string("signer-not-bound"),
                             whole_code(dsig(manifest(digest_item("one", "a/one.bin", "first item")), signer_)));
    }

    void each_distinct_file_read_once() {
        // 300 items naming one file (the amplification of issue 17): counted, and read, once;
        // a byte budget below two reads proves it
        const std::string big(300000, 'x');
        const std::string cms = base64_encode(testpki::cms_sign(big, signer_));
        std::string items;
        for (int i = 0; i < 300; ++i)
            items += "<ContentItem id=\"i" + std::to_string(i) + "\"><Location>a/two.bin</Location>"
                     "<SignedHash>" + cms + "</SignedHash></ContentItem>";
        policy_.max_bytes = 400000;
        const ManifestVerdict v = verify(manifest(items));
        CPPUNIT_ASSERT(!v.first_failure());
        CPPUNIT_ASSERT_EQUAL(size_t(300), v.items.size());
        CPPUNIT_ASSERT(v.items[299].digest == digest_of(DigestAlg::sha256, big));
        // another name of the same file (a hard link) is the same file
        CPPUNIT_ASSERT_EQUAL(0, link((dir_ + "/root/a/two.bin").c_str(), (dir_ + "/root/a/two-again.bin").c_str()));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), whole_code(manifest(cms_item("a", "a/two.bin", big) +
                                                                    cms_item("b", "a/two-again.bin", big))));
        // a second algorithm for the same file is one more pass, not a second count
        const std::string both = "<ContentItem id=\"d\"><Location>a/two.bin</Location><Digest algorithm=\"sha-512\">" +
                                 base64_encode(digest_of(DigestAlg::sha512, big)) + "</Digest><SignedHash>" + cms +
                                 "</SignedHash></ContentItem>";
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), whole_code(manifest(cms_item("a", "a/two.bin", big) + both)));
    }

    void work_is_bounded() {
        const std::string three = manifest(cms_item("1", "a/one.bin", "first item") + cms_item("2", "a/one.bin", "first item") +
                                           cms_item("3", "a/one.bin", "first item"));
        policy_.max_items = 2;
        CPPUNIT_ASSERT_EQUAL(std::string("too-large"), whole_code(three));
        policy_.max_items = 3;
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), whole_code(three));
        policy_.max_bytes = 299999;
        const ManifestVerdict v = verify(manifest(cms_item("one", "a/one.bin", "first item") +
                                                  cms_item("two", "a/two.bin", std::string(300000, 'x'))));
        CPPUNIT_ASSERT_EQUAL(std::string("too-large"), std::string(v.first_failure()->code));
        CPPUNIT_ASSERT_EQUAL(std::string("two"), v.first_failure()->id);
        CPPUNIT_ASSERT(!v.items[0].code);
        // KeyInfo certificates are tried one by one: bounded
        policy_.max_bytes = 1ULL << 30;
        const std::string s = dsig(manifest(digest_item("one", "a/one.bin", "first item")), signer_);
        const size_t a = s.find("<ds:X509Certificate>"), b = s.find("</ds:X509Certificate>") + 21;
        const std::string cert = s.substr(a, b - a);
        std::string four = s, five = s;
        four.insert(b, cert + cert + cert);
        five.insert(b, cert + cert + cert + cert);
        policy_.max_keyinfo_certificates = 4;
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), whole_code(four));
        CPPUNIT_ASSERT_EQUAL(std::string("signature-malformed"), whole_code(five));
    }

    void snapshots_move_and_go_back() {
        const std::string big(300000, 'x');
        const std::string xml = manifest(cms_item("one", "a/one.bin", "first item") + cms_item("two", "a/two.bin", big) +
                                         cms_item("again", "a/one.bin", "first item"));
        std::string kept;
        {
            TransactionDir tx(snaps(), "unit", SnapshotMode::move);
            policy_.snapshots = &tx;
            const ManifestVerdict v = verify(xml);
            CPPUNIT_ASSERT(!v.first_failure());
            CPPUNIT_ASSERT_EQUAL(tx.path() + "/1", v.items[0].path);
            CPPUNIT_ASSERT_EQUAL(v.items[0].path, v.items[2].path);  // one file, one snapshot
            CPPUNIT_ASSERT_EQUAL(std::string("first item"), read(v.items[0].path));
            CPPUNIT_ASSERT_EQUAL(big, read(v.items[1].path));
            CPPUNIT_ASSERT(!exists(dir_ + "/root/a/one.bin"));  // moved: no staging writer reaches it
            // the handler takes one (a rename out of the directory)
            kept = dir_ + "/taken.bin";
            CPPUNIT_ASSERT_EQUAL(0, rename(v.items[1].path.c_str(), kept.c_str()));
            // the end of the handler's response: released while the request (and its lock) lives
            tx.release();
            CPPUNIT_ASSERT_EQUAL(std::string("first item"), read(dir_ + "/root/a/one.bin"));
            CPPUNIT_ASSERT(!exists(tx.path()));
            CPPUNIT_ASSERT_EQUAL(0u, sweep_transaction_dirs(snaps(), 0));
            tx.release();  // once
        }
        // the end of the request: what was not taken is back where it was staged, the directory gone
        CPPUNIT_ASSERT_EQUAL(std::string("first item"), read(dir_ + "/root/a/one.bin"));
        CPPUNIT_ASSERT(!exists(dir_ + "/root/a/two.bin"));
        CPPUNIT_ASSERT_EQUAL(big, read(kept));
        CPPUNIT_ASSERT_EQUAL(0, rmdir(snaps().c_str()));  // empty
        // a refused manifest: no snapshot after the failure, moved ones put back at once
        stage("a/two.bin", big);
        stage("a/three.bin", "third");
        TransactionDir tx(snaps(), "unit", SnapshotMode::move);
        policy_.snapshots = &tx;
        const ManifestVerdict v = verify(manifest(cms_item("one", "a/one.bin", "first item") +
                                                  cms_item("bad", "a/two.bin", "not the staged bytes") +
                                                  cms_item("three", "a/three.bin", "third")));
        CPPUNIT_ASSERT_EQUAL(std::string("bad"), v.first_failure()->id);
        CPPUNIT_ASSERT(!v.items[2].code && v.items[2].path.empty());
        CPPUNIT_ASSERT(exists(dir_ + "/root/a/three.bin"));
        tx.restore_moved();
        CPPUNIT_ASSERT_EQUAL(std::string("first item"), read(dir_ + "/root/a/one.bin"));
        CPPUNIT_ASSERT_EQUAL(big, read(dir_ + "/root/a/two.bin"));
        // a name staged again meanwhile wins over the moved file
        const ManifestVerdict w = verify(manifest(cms_item("one", "a/one.bin", "first item")));
        CPPUNIT_ASSERT(!w.first_failure());
        stage("a/one.bin", "staged again");
        tx.restore_moved();
        CPPUNIT_ASSERT_EQUAL(std::string("staged again"), read(dir_ + "/root/a/one.bin"));
    }

    void snapshots_copy_and_links() {
        TransactionDir tx(snaps(), "unit", SnapshotMode::copy);
        policy_.snapshots = &tx;
        const ManifestVerdict v = verify(manifest(cms_item("one", "a/one.bin", "first item")));
        CPPUNIT_ASSERT(!v.first_failure());
        CPPUNIT_ASSERT_EQUAL(std::string("first item"), read(v.items[0].path));
        CPPUNIT_ASSERT_EQUAL(std::string("first item"), read(dir_ + "/root/a/one.bin"));  // copied: still staged
        stage("a/one.bin", "rewritten in place");
        CPPUNIT_ASSERT_EQUAL(std::string("first item"), read(v.items[0].path));
        // Move copies a file that has another name (it could be rewritten through it)
        stage("a/one.bin", "first item");
        CPPUNIT_ASSERT_EQUAL(0, link((dir_ + "/root/a/one.bin").c_str(), (dir_ + "/root/other.bin").c_str()));
        TransactionDir moving(snaps(), "unit", SnapshotMode::move);
        policy_.snapshots = &moving;
        const ManifestVerdict w = verify(manifest(cms_item("one", "a/one.bin", "first item")));
        CPPUNIT_ASSERT(!w.first_failure());
        CPPUNIT_ASSERT(exists(dir_ + "/root/a/one.bin"));
        std::ofstream(dir_ + "/root/other.bin", std::ios::binary | std::ios::in) << "FIRST";
        CPPUNIT_ASSERT_EQUAL(std::string("first item"), read(w.items[0].path));
        // a symlink at the staged name is refused, and left where it was
        CPPUNIT_ASSERT_EQUAL(0, symlink("one.bin", (dir_ + "/root/a/sym.bin").c_str()));
        CPPUNIT_ASSERT_EQUAL(std::string("item:forbidden"), whole_code(manifest(cms_item("s", "a/sym.bin", "first item"))));
        CPPUNIT_ASSERT(exists(dir_ + "/root/a/sym.bin"));
    }

    void sweep_after_a_crash() {
        const std::string base = snaps();
        const pid_t pid = fork();
        if (pid == 0) {  // a child that dies mid-request: no destructor runs
            TransactionDir* tx = new TransactionDir(base, "crash", SnapshotMode::move);
            policy_.snapshots = tx;
            const ManifestVerdict v = verify(manifest(cms_item("one", "a/one.bin", "first item")));
            _exit(v.first_failure() || exists(dir_ + "/root/a/one.bin") ? 1 : 0);
        }
        int status = 0;
        CPPUNIT_ASSERT_EQUAL(pid, waitpid(pid, &status, 0));
        CPPUNIT_ASSERT_EQUAL(0, WEXITSTATUS(status));
        TransactionDir live(base, "live", SnapshotMode::move);  // a request in progress: left alone
        CPPUNIT_ASSERT_EQUAL(0u, sweep_transaction_dirs(base, 3600));  // too young to tell
        CPPUNIT_ASSERT_EQUAL(1u, sweep_transaction_dirs(base, 0));
        CPPUNIT_ASSERT_EQUAL(std::string("first item"), read(dir_ + "/root/a/one.bin"));  // put back
        CPPUNIT_ASSERT(exists(live.path()));
    }

    void items_field_keeps_text_and_paths() {
        stage("a/f\xc3\xbcr \xc3\x89lise.bin", "first item");
        TransactionDir tx(snaps(), "unit", SnapshotMode::move);
        policy_.snapshots = &tx;
        const ManifestVerdict v = verify(manifest(cms_item("\xc3\xa9-1", "a/f\xc3\xbcr \xc3\x89lise.bin", "first item")));
        CPPUNIT_ASSERT(!v.first_failure());
        const std::string sf = items_structured_field(v);
        CPPUNIT_ASSERT_EQUAL(std::string("%\"%c3%a9-1\";result=valid;location=%\"a/f%c3%bcr %c3%89lise.bin\";alg=sha-256;"
                                         "digest=:" + b64digest("first item") + ":;path=\"" + tx.path() + "/1\""),
                             sf);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ManifestVerifyTest);

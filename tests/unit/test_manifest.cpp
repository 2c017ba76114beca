// Decoupled Upload: manifest parsing (limits, no DTD), item extraction with
// XPath settings, staging-root confinement and streamed digests of staged files.
#include "libcmi/base64.hpp"
#include "libcmi/manifest.hpp"
#include "libcmi/staged_digest.hpp"
#include "libcmi/staging_path.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <cstdlib>
#include <filesystem>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace cmi;

namespace {

const std::vector<DigestAlg> kAll{DigestAlg::sha256, DigestAlg::sha512};

std::string item_xml(const std::string& id, const std::string& loc, const std::string& body) {
    return "<ContentItem id=\"" + id + "\"><Location>" + loc + "</Location><Digest algorithm=\"sha-256\">" +
           base64_encode(digest_of(DigestAlg::sha256, body)) + "</Digest></ContentItem>";
}

std::string manifest(const std::string& items) {
    return "<?xml version=\"1.0\"?>\n<Manifest xmlns=\"urn:mod-cmi:manifest:1\">" + items + "</Manifest>";
}

std::string code_of_parse(const std::string& xml, ManifestLimits lim = {}, size_t chunk = 0) {
    try {
        ManifestReader r(lim);
        if (!chunk) chunk = xml.size() ? xml.size() : 1;
        for (size_t i = 0; i < xml.size(); i += chunk) r.feed(xml.data() + i, std::min(chunk, xml.size() - i));
        auto doc = r.finish();
        manifest_items(*doc, default_manifest_paths(), kAll);
    } catch (const ValidationError& e) {
        return e.code;
    }
    return "ok";
}

void write_file(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
}

}  // namespace

class ManifestTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ManifestTest);
    CPPUNIT_TEST(default_schema_items);
    CPPUNIT_TEST(chunked_feed_equals_whole);
    CPPUNIT_TEST(doctype_and_entities_refused);
    CPPUNIT_TEST(depth_nodes_and_size_bounded);
    CPPUNIT_TEST(not_well_formed);
    CPPUNIT_TEST(item_rules);
    CPPUNIT_TEST(custom_schema_paths);
    CPPUNIT_TEST(values_are_one_text_node);
    CPPUNIT_TEST(unread_elements_refused);
    CPPUNIT_TEST(xpath_syntax);
    CPPUNIT_TEST(staging_syntax);
    CPPUNIT_TEST(staging_open_and_links);
    CPPUNIT_TEST(staging_per_user);
    CPPUNIT_TEST(staged_digests_stream);
    CPPUNIT_TEST_SUITE_END();

    std::string dir_;

public:
    void setUp() override {
        char tmpl[] = "/tmp/cmi-unit-staging-XXXXXX";
        dir_ = mkdtemp(tmpl);
        mkdir((dir_ + "/root").c_str(), 0755);
        mkdir((dir_ + "/root/provider-a").c_str(), 0755);
        write_file(dir_ + "/root/provider-a/song.mp3", "song bytes");
        write_file(dir_ + "/outside.txt", "secret outside the root");
    }
    void tearDown() override {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    void default_schema_items() {
        const std::string xml = manifest(
            item_xml("song-1", "provider-a/song.mp3", "song bytes") +
            "<ContentItem id=\"song-2\"><Location>b/c.bin</Location><SignedHash format=\"cms\">\n  AAEC\n  AwQ=\n"
            "</SignedHash></ContentItem>");
        auto doc = parse_manifest(xml, {});
        const auto items = manifest_items(*doc, default_manifest_paths(), kAll);
        CPPUNIT_ASSERT_EQUAL(size_t(2), items.size());
        CPPUNIT_ASSERT_EQUAL(std::string("song-1"), items[0].id);
        CPPUNIT_ASSERT_EQUAL(std::string("provider-a/song.mp3"), items[0].location);
        CPPUNIT_ASSERT(items[0].digest_alg == DigestAlg::sha256);
        CPPUNIT_ASSERT(items[0].digest == digest_of(DigestAlg::sha256, "song bytes"));
        CPPUNIT_ASSERT(items[0].signed_hash.empty());
        CPPUNIT_ASSERT(!items[1].digest_alg);
        CPPUNIT_ASSERT_EQUAL(std::string("\x00\x01\x02\x03\x04", 5), items[1].signed_hash);
    }

    void chunked_feed_equals_whole() {
        const std::string xml = manifest(item_xml("a", "x/y", "1") + item_xml("b", "x/z", "2"));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of_parse(xml, {}, 1));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of_parse(xml, {}, 7));
    }

    void doctype_and_entities_refused() {
        const std::string body = manifest(item_xml("a", "x", "1"));
        const std::string decl = "<?xml version=\"1.0\"?>\n";
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(decl + "<!DOCTYPE Manifest>" + body.substr(decl.size())));
        // XXE
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(decl + "<!DOCTYPE m [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                                                  "<Manifest xmlns=\"urn:mod-cmi:manifest:1\"><ContentItem id=\"a\">"
                                                  "<Location>&x;</Location></ContentItem></Manifest>"));
        // billion laughs
        std::string lol = decl + "<!DOCTYPE lolz [<!ENTITY lol \"lol\">";
        for (int i = 1; i < 10; ++i)
            lol += "<!ENTITY lol" + std::to_string(i) + " \"" + std::string(10, ' ') + "\">";
        lol += "]><lolz>&lol9;</lolz>";
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"), code_of_parse(lol));
        // an undeclared entity, and an external DTD by SYSTEM id
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem id=\"a\"><Location>&foo;</Location></ContentItem>")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse("<!DOCTYPE Manifest SYSTEM \"http://127.0.0.1:9/x.dtd\">" + body.substr(decl.size())));
        // the predefined entities and character references are plain text
        auto doc = parse_manifest(manifest("<ContentItem id=\"a&amp;b\"><Location>x&#47;y&lt;</Location></ContentItem>"), {});
        const auto items = manifest_items(*doc, default_manifest_paths(), kAll);
        CPPUNIT_ASSERT_EQUAL(std::string("a&b"), items[0].id);
        CPPUNIT_ASSERT_EQUAL(std::string("x/y<"), items[0].location);
    }

    void depth_nodes_and_size_bounded() {
        std::string deep;
        for (int i = 0; i < 10000; ++i) deep += "<a>";
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"), code_of_parse(deep, {}, 4096));
        std::string d31 = "<Manifest xmlns=\"urn:mod-cmi:manifest:1\">" + item_xml("a", "x", "1");
        // (outside the manifest namespace: elements there must all be read)
        d31 += "<n xmlns=\"urn:example:other\">";
        for (int i = 1; i < 30; ++i) d31 += "<n>";
        for (int i = 0; i < 30; ++i) d31 += "</n>";
        d31 += "</Manifest>";
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of_parse(d31));
        ManifestLimits small;
        small.max_depth = 4;
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"), code_of_parse(d31, small));

        std::string many = "<Manifest xmlns=\"urn:mod-cmi:manifest:1\">" + item_xml("a", "x", "1");
        for (int i = 0; i < 200; ++i) many += "<n xmlns=\"urn:example:other\" a=\"1\"/>";
        many += "</Manifest>";
        ManifestLimits few;
        few.max_nodes = 100;
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of_parse(many));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"), code_of_parse(many, few));

        ManifestLimits tiny;
        tiny.max_size = 100;
        const std::string big = manifest(item_xml("a", "x", "1") + item_xml("b", "y", "2"));
        CPPUNIT_ASSERT_EQUAL(std::string("too-large"), code_of_parse(big, tiny, 10));
        CPPUNIT_ASSERT_EQUAL(std::string("too-large"), code_of_parse(big, tiny));
        tiny.max_size = big.size();
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of_parse(big, tiny));
    }

    void not_well_formed() {
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"), code_of_parse(""));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"), code_of_parse("not xml"));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"), code_of_parse("<Manifest><a></Manifest>"));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest(item_xml("a", "x", "1")) + "<second/>"));
        try {
            parse_manifest("<Manifest><a></Manifest>", {});
            CPPUNIT_FAIL("accepted");
        } catch (const ValidationError& e) {
            CPPUNIT_ASSERT(std::string(e.what()).find("not well-formed") != std::string::npos);
        }
    }

    void item_rules() {
        const std::string dg = base64_encode(digest_of(DigestAlg::sha256, "1"));
        // no item; wrong namespace; missing id/location; two locations; duplicate id
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"), code_of_parse(manifest("")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse("<Manifest><ContentItem id=\"a\"><Location>x</Location></ContentItem></Manifest>"));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem><Location>x</Location></ContentItem>")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem id=\"a\"></ContentItem>")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem id=\"a\"><Location>x</Location><Location>y</Location></ContentItem>")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest(item_xml("a", "x", "1") + item_xml("a", "y", "1"))));
        // digests: unknown or refused algorithm, wrong length, not base64, two of them
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem id=\"a\"><Location>x</Location><Digest algorithm=\"sha-1\">" +
                                                    dg + "</Digest></ContentItem>")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem id=\"a\"><Location>x</Location><Digest algorithm=\"sha-512\">" +
                                                    dg + "</Digest></ContentItem>")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem id=\"a\"><Location>x</Location><Digest>%%%</Digest></ContentItem>")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem id=\"a\"><Location>x</Location><Digest>" + dg +
                                                    "</Digest><Digest>" + dg + "</Digest></ContentItem>")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem id=\"a\"><Location>x</Location><SignedHash format=\"pgp\">AAAA</SignedHash></ContentItem>")));
        // sha-256 only
        auto doc = parse_manifest(manifest("<ContentItem id=\"a\"><Location>x</Location><Digest algorithm=\"sha-512\">" +
                                           base64_encode(digest_of(DigestAlg::sha512, "1")) + "</Digest></ContentItem>"), {});
        CPPUNIT_ASSERT_NO_THROW(manifest_items(*doc, default_manifest_paths(), kAll));
        CPPUNIT_ASSERT_THROW(manifest_items(*doc, default_manifest_paths(), {DigestAlg::sha256}), ValidationError);
    }

    void custom_schema_paths() {
        const std::string xml =
            "<pkg:Package xmlns:pkg=\"urn:example:cmi-package\"><pkg:Assets>"
            "<pkg:Asset><pkg:Ref>A-1</pkg:Ref><pkg:File href=\"a/b.bin\"/><pkg:Hash algorithm=\"sha-256\">" +
            base64_encode(digest_of(DigestAlg::sha256, "z")) + "</pkg:Hash></pkg:Asset></pkg:Assets></pkg:Package>";
        ManifestPaths p;
        p.namespaces = {{"p", "urn:example:cmi-package"}};
        p.item = "//p:Asset";
        p.id = "p:Ref";
        p.location = "p:File/@href";
        p.digest = "p:Hash";
        p.signed_hash = "p:Signature";
        auto doc = parse_manifest(xml, {});
        const auto items = manifest_items(*doc, p, kAll);
        CPPUNIT_ASSERT_EQUAL(size_t(1), items.size());
        CPPUNIT_ASSERT_EQUAL(std::string("A-1"), items[0].id);
        CPPUNIT_ASSERT_EQUAL(std::string("a/b.bin"), items[0].location);
        CPPUNIT_ASSERT(items[0].digest == digest_of(DigestAlg::sha256, "z"));
        // the default schema finds nothing in it
        CPPUNIT_ASSERT_THROW(manifest_items(*doc, default_manifest_paths(), kAll), ValidationError);
    }

    void values_are_one_text_node() {
        const std::string dg = base64_encode(digest_of(DigestAlg::sha256, "1"));
        // "song<!-- -->.mp3" is song.mp3 to the validator, "song" to a first-text-node reader
        for (const std::string inner : {"<!-- -->", "<?pi x?>", "<![CDATA[.x]]>", "<b/>", "<Location>y</Location>"}) {
            CPPUNIT_ASSERT_EQUAL_MESSAGE(inner, std::string("manifest-malformed"),
                                         code_of_parse(manifest("<ContentItem id=\"a\"><Location>provider-a/song" + inner +
                                                                ".mp3</Location><Digest>" + dg + "</Digest></ContentItem>")));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(inner, std::string("manifest-malformed"),
                                         code_of_parse(manifest("<ContentItem id=\"a\"><Location>x</Location><Digest>" +
                                                                dg.substr(0, 8) + inner + dg.substr(8) + "</Digest></ContentItem>")));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(inner, std::string("manifest-malformed"),
                                         code_of_parse(manifest("<ContentItem id=\"a\"><Location>x</Location><SignedHash>AA" +
                                                                inner + "AA</SignedHash></ContentItem>")));
        }
        // an id element (a deployment schema) likewise
        const std::string pkg = "<p:Package xmlns:p=\"urn:example:cmi-package\"><p:Asset><p:Ref>A<!---->1</p:Ref>"
                                "<p:File href=\"a/b.bin\"/></p:Asset></p:Package>";
        ManifestPaths p;
        p.namespaces = {{"p", "urn:example:cmi-package"}};
        p.item = "//p:Asset";
        p.id = "p:Ref";
        p.location = "p:File/@href";
        auto doc = parse_manifest(pkg, {});
        CPPUNIT_ASSERT_THROW(manifest_items(*doc, p, kAll), ValidationError);
        // one text node, whatever entities and character references it was written with; empty is one reading too
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code_of_parse(manifest("<ContentItem id=\"a\"><Location>x&amp;&#47;y</Location>"
                                                                       "<Digest>" + dg + "</Digest></ContentItem>")));
    }

    void unread_elements_refused() {
        const std::string dg = base64_encode(digest_of(DigestAlg::sha256, "1"));
        const std::string loc = "<Location>x</Location><Digest>" + dg + "</Digest>";
        // an element the validator does not read: in an item, next to the items, inside a foreign element
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem id=\"a\">" + loc + "<Target>/publish</Target></ContentItem>")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest(item_xml("a", "x", "1") + "<Note>n</Note>")));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"),
                             code_of_parse(manifest("<ContentItem id=\"a\">" + loc +
                                                    "<x:Ext xmlns:x=\"urn:x\"><Location>y</Location></x:Ext></ContentItem>")));
        // elements of other namespaces are not the manifest's
        CPPUNIT_ASSERT_EQUAL(std::string("ok"),
                             code_of_parse(manifest("<ContentItem id=\"a\">" + loc + "<x:Ext xmlns:x=\"urn:x\">e</x:Ext></ContentItem>")));
        // declared metadata, with whatever is inside it
        const std::string titled = manifest("<ContentItem id=\"a\">" + loc + "<Title>T<Sub>s</Sub></Title></ContentItem>");
        ManifestPaths paths = default_manifest_paths();
        paths.metadata = {"/m:Manifest/m:ContentItem/m:Title"};
        auto doc = parse_manifest(titled, {});
        CPPUNIT_ASSERT_EQUAL(size_t(1), manifest_items(*doc, paths, kAll).size());
        CPPUNIT_ASSERT_THROW(manifest_items(*doc, default_manifest_paths(), kAll), ValidationError);
        auto other = parse_manifest(manifest("<ContentItem id=\"a\">" + loc + "<Target>t</Target></ContentItem>"), {});
        CPPUNIT_ASSERT_THROW(manifest_items(*other, paths, kAll), ValidationError);
    }

    void xpath_syntax() {
        CPPUNIT_ASSERT_EQUAL(std::string(""), xpath_syntax_error("/m:Manifest/m:ContentItem"));
        CPPUNIT_ASSERT(!xpath_syntax_error("/m:Manifest[").empty());
        CPPUNIT_ASSERT(!xpath_syntax_error("").empty());
    }

    void staging_syntax() {
        CPPUNIT_ASSERT_EQUAL(std::string(""), staging_path_syntax_error("provider-a/song 1.mp3"));
        CPPUNIT_ASSERT_EQUAL(std::string(""), staging_path_syntax_error("..1..=/etc'passwd"));  // names, not ".."
        for (const char* bad : {"", "/etc/passwd", "../../etc/passwd", "a/../b", "a/./b", "a//b", "a/", ".", "a\nb", "a\tb"})
            CPPUNIT_ASSERT_MESSAGE(bad, !staging_path_syntax_error(bad).empty());
        CPPUNIT_ASSERT(!staging_path_syntax_error(std::string("a\0b", 3)).empty());
        CPPUNIT_ASSERT(!staging_path_syntax_error(std::string(5000, 'a')).empty());
    }

    std::string open_code(const std::string& loc, const std::string& sub = "") {
        try {
            StagedFile f = open_staged(dir_ + "/root", sub, loc);
            return f.fd() >= 0 ? "ok" : "no-fd";
        } catch (const ValidationError& e) {
            return e.code;
        }
    }

    void staging_open_and_links() {
        const std::string root = dir_ + "/root";
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), open_code("provider-a/song.mp3"));
        CPPUNIT_ASSERT_EQUAL(std::string("content-missing"), open_code("provider-a/none.mp3"));
        CPPUNIT_ASSERT_EQUAL(std::string("content-missing"), open_code("nodir/song.mp3"));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"), open_code("../outside.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("manifest-malformed"), open_code(dir_ + "/outside.txt"));
        CPPUNIT_ASSERT_EQUAL(0, symlink((dir_ + "/outside.txt").c_str(), (root + "/provider-a/out.lnk").c_str()));
        CPPUNIT_ASSERT_EQUAL(std::string("forbidden"), open_code("provider-a/out.lnk"));
        CPPUNIT_ASSERT_EQUAL(0, symlink("song.mp3", (root + "/provider-a/in.lnk").c_str()));
        CPPUNIT_ASSERT_EQUAL(std::string("forbidden"), open_code("provider-a/in.lnk"));
        CPPUNIT_ASSERT_EQUAL(0, symlink(dir_.c_str(), (root + "/up").c_str()));
        CPPUNIT_ASSERT_EQUAL(std::string("forbidden"), open_code("up/outside.txt"));
        CPPUNIT_ASSERT_EQUAL(0, symlink("provider-a", (root + "/alias").c_str()));
        CPPUNIT_ASSERT_EQUAL(std::string("forbidden"), open_code("alias/song.mp3"));
        CPPUNIT_ASSERT_EQUAL(std::string("forbidden"), open_code("provider-a"));
        CPPUNIT_ASSERT_EQUAL(std::string("forbidden"), open_code("provider-a/song.mp3/x"));
        CPPUNIT_ASSERT_EQUAL(0, mkfifo((root + "/fifo").c_str(), 0600));
        CPPUNIT_ASSERT_EQUAL(std::string("forbidden"), open_code("fifo"));
        CPPUNIT_ASSERT_THROW(open_staged(dir_ + "/no-root", "", "a"), std::runtime_error);
    }

    void staging_per_user() {
        mkdir((dir_ + "/root/alice").c_str(), 0755);
        write_file(dir_ + "/root/alice/a.bin", "A");
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), open_code("a.bin", "alice"));
        CPPUNIT_ASSERT_EQUAL(std::string("content-missing"), open_code("a.bin", "bob"));
        CPPUNIT_ASSERT_EQUAL(std::string("content-missing"), open_code("provider-a/song.mp3", "alice"));
        CPPUNIT_ASSERT_EQUAL(std::string("forbidden"), open_code("a.bin", ".."));
        CPPUNIT_ASSERT_EQUAL(std::string("forbidden"), open_code("a.bin", "a/b"));
        CPPUNIT_ASSERT_EQUAL(0, symlink("alice", (dir_ + "/root/mallory").c_str()));
        CPPUNIT_ASSERT_EQUAL(std::string("forbidden"), open_code("a.bin", "mallory"));
    }

    void staged_digests_stream() {
        std::string big(3 * 1024 * 1024 + 17, '\0');
        for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + (i >> 9));
        write_file(dir_ + "/root/big.bin", big);
        StagedFile f = open_staged(dir_ + "/root", "", "big.bin");
        const StagedDigests d = digest_staged(f.fd(), {DigestAlg::sha512, DigestAlg::sha256, DigestAlg::sha512});
        CPPUNIT_ASSERT_EQUAL(static_cast<unsigned long long>(big.size()), d.bytes);
        CPPUNIT_ASSERT_EQUAL(size_t(2), d.digests.size());
        CPPUNIT_ASSERT(*d.find(DigestAlg::sha256) == digest_of(DigestAlg::sha256, big));
        CPPUNIT_ASSERT(*d.find(DigestAlg::sha512) == digest_of(DigestAlg::sha512, big));
        StagedFile e = open_staged(dir_ + "/root", "", "provider-a/song.mp3");
        CPPUNIT_ASSERT(*digest_staged(e.fd(), {DigestAlg::sha256}).find(DigestAlg::sha256) ==
                       digest_of(DigestAlg::sha256, "song bytes"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ManifestTest);

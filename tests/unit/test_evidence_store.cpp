#include "libcmi/evidence_store.hpp"
#include "libcmi/sha256.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using cmi::audit::EvidenceStore;

class EvidenceStoreTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(EvidenceStoreTest);
    CPPUNIT_TEST(put_names_files_by_their_hash);
    CPPUNIT_TEST(same_bytes_are_kept_once_and_a_wrong_file_is_replaced);
    CPPUNIT_TEST(get_finds_missing_and_altered_files);
    CPPUNIT_TEST(names_from_records_are_never_paths);
    CPPUNIT_TEST(default_dir_is_beside_the_log);
    CPPUNIT_TEST(through_a_directory_descriptor);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override {
        char tmpl[] = "/tmp/cmi-evidence-XXXXXX";
        CPPUNIT_ASSERT(mkdtemp(tmpl));
        dir_ = tmpl;
    }
    void tearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

    void put_names_files_by_their_hash() {
        EvidenceStore store(dir_);
        static const char der[] = "\x30\x82\x01\x00 DER\n\0with a NUL";
        const std::string bytes(der, sizeof der - 1);
        const std::string hex = store.put(bytes, true);
        CPPUNIT_ASSERT_EQUAL(cmi::sha256_hex(bytes), hex);
        CPPUNIT_ASSERT_EQUAL(dir_ + "/" + hex.substr(0, 2) + "/" + hex, store.path_of(hex));
        CPPUNIT_ASSERT_EQUAL(bytes, read(store.path_of(hex)));
        CPPUNIT_ASSERT_EQUAL(bytes, store.get(hex));
        struct stat st {};
        CPPUNIT_ASSERT(stat(store.path_of(hex).c_str(), &st) == 0);
        CPPUNIT_ASSERT_EQUAL(0440u, static_cast<unsigned>(st.st_mode & 07777));
    }

    void same_bytes_are_kept_once_and_a_wrong_file_is_replaced() {
        EvidenceStore store(dir_);
        const std::string hex = store.put("key", false);
        CPPUNIT_ASSERT_EQUAL(hex, store.put("key", false));
        // Someone left other bytes under that name: put writes the right ones.
        const std::string path = store.path_of(hex);
        chmod(path.c_str(), 0640);
        std::ofstream(path, std::ios::trunc) << "forged";
        CPPUNIT_ASSERT_EQUAL(hex, store.put("key", false));
        CPPUNIT_ASSERT_EQUAL(std::string("key"), store.get(hex));
    }

    void get_finds_missing_and_altered_files() {
        EvidenceStore store(dir_);
        const std::string hex = store.put("signature", false);
        const std::string path = store.path_of(hex);
        chmod(path.c_str(), 0640);
        std::ofstream(path, std::ios::trunc) << "signaturE";
        CPPUNIT_ASSERT_THROW_MESSAGE("altered", store.get(hex), std::runtime_error);
        unlink(path.c_str());
        try {
            store.get(hex);
            CPPUNIT_FAIL("a missing file must throw");
        } catch (const std::runtime_error& e) {
            CPPUNIT_ASSERT(std::string(e.what()).find("is missing") != std::string::npos);
        }
    }

    void names_from_records_are_never_paths() {
        EvidenceStore store(dir_);
        CPPUNIT_ASSERT_THROW(store.get("../../etc/passwd"), std::runtime_error);
        CPPUNIT_ASSERT_THROW(store.get(std::string(63, 'a') + "/"), std::runtime_error);
        CPPUNIT_ASSERT_THROW(store.get(std::string(64, 'A')), std::runtime_error);
    }

    void default_dir_is_beside_the_log() {
        using cmi::audit::default_evidence_dir;
        CPPUNIT_ASSERT_EQUAL(std::string("/var/log/apache2/cmi-evidence"),
                             default_evidence_dir("/var/log/apache2/cmi-audit.log"));
        CPPUNIT_ASSERT_EQUAL(std::string("/cmi-evidence"), default_evidence_dir("/audit.log"));
        CPPUNIT_ASSERT_EQUAL(std::string("./cmi-evidence"), default_evidence_dir("audit.log"));
    }

    // The httpd children write through the parent's descriptor: paths in
    // messages name the store, the files land in the directory opened.
    void through_a_directory_descriptor() {
        const int fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
        CPPUNIT_ASSERT(fd >= 0);
        EvidenceStore via_fd("/var/log/apache2/cmi-evidence", fd);
        const std::string hex = via_fd.put("through the descriptor", true);
        CPPUNIT_ASSERT_EQUAL(std::string("through the descriptor"), read(dir_ + "/" + hex.substr(0, 2) + "/" + hex));
        CPPUNIT_ASSERT_EQUAL(std::string("through the descriptor"), via_fd.get(hex));
        CPPUNIT_ASSERT_EQUAL("/var/log/apache2/cmi-evidence/" + hex.substr(0, 2) + "/" + hex, via_fd.path_of(hex));
        close(fd);
    }

private:
    static std::string read(const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    std::string dir_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(EvidenceStoreTest);

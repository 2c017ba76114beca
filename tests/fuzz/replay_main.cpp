// A main() for a fuzz target without libFuzzer: feeds every file named on the command
// line, and every file in a directory named there, to LLVMFuzzerTestOneInput once
// (after LLVMFuzzerInitialize, when the target has one). `make check` builds each
// target with it (g++, no clang needed) and replays the committed seed corpora, so a
// change that breaks a seed's property fails the unit tests, not only the fuzz run.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

std::vector<std::filesystem::path> inputs(int argc, char** argv) {
    std::vector<std::filesystem::path> out;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path arg(argv[i]);
        if (!std::filesystem::is_directory(arg)) {
            out.push_back(arg);
            continue;
        }
        std::vector<std::filesystem::path> files;
        for (const auto& e : std::filesystem::directory_iterator(arg))
            if (e.is_regular_file()) files.push_back(e.path());
        std::sort(files.begin(), files.end());  // the same order on every run
        out.insert(out.end(), files.begin(), files.end());
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (LLVMFuzzerInitialize && LLVMFuzzerInitialize(&argc, &argv) != 0) {
        std::fprintf(stderr, "%s: LLVMFuzzerInitialize failed\n", argv[0]);
        return 1;
    }
    const auto files = inputs(argc, argv);
    if (files.empty()) {
        std::fprintf(stderr, "%s: no inputs (usage: %s CORPUS_DIR|FILE...)\n", argv[0], argv[0]);
        return 1;
    }
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "%s: cannot read %s\n", argv[0], f.c_str());
            return 1;
        }
        const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        // A crash or __builtin_trap() ends the process here: the failing input is the last one named.
        std::fprintf(stderr, "%s\n", f.c_str());
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("%s: %zu inputs replayed\n", argv[0], files.size());
    return 0;
}

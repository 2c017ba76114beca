// Parses one client-sent field read from standard input, so that
// tests/e2e/test_parser_work.py can count under callgrind the instructions a
// parser spends on it (growth with the input's size, not time).
//   cmi-parse-work dictionary|item   RFC 8941 field
//   cmi-parse-work signature         line 1 Signature-Input, line 2 Signature (RFC 9421)
// Prints what was parsed (members, parameters, components) or the error.
#include "libcmi/http_signature.hpp"
#include "libcmi/structured_field.hpp"

#include <iostream>
#include <iterator>
#include <string>

// The one function callgrind counts (--toggle-collect=cmi_parse_work).
extern "C" __attribute__((noinline)) int cmi_parse_work(const std::string& mode, const std::string& in,
                                                        std::string& out) {
    try {
        if (mode == "dictionary") {
            const auto d = cmi::sf::parse_dictionary(in);
            out = "members " + std::to_string(d.size());
        } else if (mode == "item") {
            const auto i = cmi::sf::parse_item(in);
            out = "parameters " + std::to_string(i.params.size());
        } else if (mode == "signature") {
            const size_t cut = in.find('\n');
            const auto s = cmi::httpsig::parse_signature_fields(in.substr(0, cut), in.substr(cut + 1));
            out = "label " + s.params.label + " components " + std::to_string(s.params.components.size());
        } else {
            out = "unknown mode " + mode;
            return 2;
        }
    } catch (const std::exception& e) {
        out = std::string("error: ") + e.what();
        return 1;
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: cmi-parse-work dictionary|item|signature < field\n";
        return 2;
    }
    const std::string in((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    std::string out;
    const int rc = cmi_parse_work(argv[1], in, out);
    std::cout << out << "\n";
    return rc;
}

// CppUnit runner for libcmi: every registered suite (or the one test or suite
// named on the command line, e.g. AuditRingTest::wraps_around_without_losing_a_byte),
// a compiler-style report.
#include <cppunit/CompilerOutputter.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <iostream>
#include <stdexcept>

int main(int argc, char** argv) {
    CppUnit::TextUi::TestRunner runner;
    runner.addTest(CppUnit::TestFactoryRegistry::getRegistry().makeTest());
    runner.setOutputter(new CppUnit::CompilerOutputter(&runner.result(), std::cerr));
    try {
        return runner.run(argc > 1 ? argv[1] : "") ? 0 : 1;
    } catch (const std::invalid_argument& e) {  // no test of that name
        std::cerr << e.what() << "\n";
        return 2;
    }
}

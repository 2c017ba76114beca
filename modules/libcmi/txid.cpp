#include "libcmi/txid.hpp"

#include "libcmi/hex_pairs.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstring>
#include <pthread.h>
#include <unistd.h>
#include <stdexcept>

namespace cmi {
namespace {

// RAND_bytes costs about a microsecond a call; ids take 10 bytes each from a
// per-thread buffer of 64 ids' worth. The buffer is plain data (nothing to
// destroy when the module is unloaded) and is tied to the process that filled
// it: a fork()ed child never reuses its parent's bytes. OpenSSL 3's DRBG
// reseeds after fork() as well. Which process is told by a count of forks
// kept by a pthread_atfork handler (getpid() is a system call, once per id).
struct RandomBuffer {
    unsigned fork_count;
    unsigned used;
    unsigned char bytes[640];
};
thread_local RandomBuffer tls_random{0, sizeof(RandomBuffer::bytes), {}};

std::atomic<unsigned> g_forks{1};  // never 0: a buffer never filled has fork_count 0
void count_fork() { g_forks.fetch_add(1, std::memory_order_relaxed); }
const bool g_fork_counted = pthread_atfork(nullptr, nullptr, count_fork) == 0;

void random_bytes(unsigned char* out, int n) {
    if (!g_fork_counted) {  // no handler (never seen): no buffer either
        if (RAND_bytes(out, n) != 1) throw std::runtime_error("RAND_bytes failed");
        return;
    }
    RandomBuffer& b = tls_random;
    const unsigned forks = g_forks.load(std::memory_order_relaxed);
    if (b.fork_count != forks || b.used + static_cast<unsigned>(n) > sizeof b.bytes) {
        if (RAND_bytes(b.bytes, sizeof b.bytes) != 1) throw std::runtime_error("RAND_bytes failed");
        b.fork_count = forks;
        b.used = 0;
    }
    std::memcpy(out, b.bytes + b.used, static_cast<std::size_t>(n));
    OPENSSL_cleanse(b.bytes + b.used, static_cast<std::size_t>(n));  // handed out once
    b.used += static_cast<unsigned>(n);
}

std::uint64_t now_ms() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(
        duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace

std::string TxidGenerator::next() { return next_at(now_ms()); }

std::string TxidGenerator::next_at(std::uint64_t unix_ms) {
    char out[kLength + 1];
    format_at(unix_ms, out);
    return std::string(out, kLength);
}

void TxidGenerator::next_into(char (&out)[kLength + 1]) { format_at(now_ms(), out); }

void TxidGenerator::format_at(std::uint64_t unix_ms, char (&out)[kLength + 1]) {
    unsigned char rnd[10];
    random_bytes(rnd, sizeof rnd);

    // A new millisecond starts the counter at a random value below 2^11, which
    // leaves room to count up; within a millisecond (or when the clock steps
    // back) the counter increments and may carry into the timestamp (§6.2).
    const std::uint64_t fresh =
        (unix_ms << 12) | ((static_cast<std::uint64_t>(rnd[0]) << 3 | (rnd[1] & 7)) & 0x7ff);
    std::uint64_t prev = last_.load(std::memory_order_relaxed);
    std::uint64_t mine;
    do {
        mine = fresh > prev ? fresh : prev + 1;
    } while (!last_.compare_exchange_weak(prev, mine, std::memory_order_relaxed));

    const std::uint64_t ms = mine >> 12;
    const unsigned counter = static_cast<unsigned>(mine & 0xfff);
    unsigned char b[16];
    for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
    b[6] = static_cast<unsigned char>(0x70 | (counter >> 8));
    b[7] = static_cast<unsigned char>(counter & 0xff);
    b[8] = static_cast<unsigned char>(0x80 | (rnd[2] & 0x3f));
    for (int i = 9; i < 16; ++i) b[i] = rnd[i - 6];

    // 8-4-4-4-12 hex digits.
    char* p = out;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        put_hex_pair(p, b[i]);
        p += 2;
    }
    *p = '\0';
}

TxidGenerator& process_txid_generator() {
    static TxidGenerator generator;
    return generator;
}

bool is_uuid_v7(const std::string& s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    const char variant = s[19];
    return s[14] == '7' && (variant == '8' || variant == '9' || variant == 'a' || variant == 'b');
}

}  // namespace cmi

// Linux futexes on words that may live in memory shared between processes
// (never FUTEX_PRIVATE_FLAG here: the audit ring's waiters and its writer are
// different processes).
#pragma once
#include <atomic>
#include <climits>
#include <cstdint>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cmi {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t), "a futex word is 32 bits");

// Sleeps while `word` holds `expected`, at most `timeout_ns` (< 0: no limit).
// Returns at a wake-up, a change of the word, a signal or the timeout.
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::int64_t timeout_ns) {
    struct timespec ts {};
    if (timeout_ns >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
        ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
    }
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected,
            timeout_ns >= 0 ? &ts : nullptr, nullptr, 0);
}

// Wakes up to `count` sleepers on `word`.
inline void futex_wake(std::atomic<std::uint32_t>& word, int count = INT_MAX) {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call).
inline std::int64_t monotonic_ns() {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace cmi

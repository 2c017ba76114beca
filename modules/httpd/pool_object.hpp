// C++ objects whose lifetime is an APR pool's: the destructor runs as a pool
// cleanup, so nothing outlives (or leaks past) the pool that owns it.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace cmi::httpd {

template <class T, class... Args>
T* pool_new(apr_pool_t* pool, Args&&... args) {
    static_assert(alignof(T) <= alignof(std::max_align_t) && alignof(T) <= 8,
                  "apr_palloc aligns to 8 bytes");
    void* mem = apr_palloc(pool, sizeof(T));
    T* obj = new (mem) T(std::forward<Args>(args)...);
    if constexpr (!std::is_trivially_destructible_v<T>) {
        apr_pool_cleanup_register(
            pool, obj,
            [](void* p) -> apr_status_t {
                static_cast<T*>(p)->~T();
                return APR_SUCCESS;
            },
            apr_pool_cleanup_null);
    }
    return obj;
}

}  // namespace cmi::httpd

// Directive-table helpers. In C++ httpd's command_rec::func is a
// `const char *(*)()`, so every handler needs a cast; the detour through
// `void (*)()` keeps -Wcast-function-type quiet. This is the only place it happens.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::httpd {

template <class F>
cmd_func as_cmd(F handler) {
    return reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(handler));
}

// Tri-state for per-directory flags: an inner section inherits an unset value.
enum class Tri : signed char { unset = -1, off = 0, on = 1 };

inline Tri merge_tri(Tri base, Tri add) { return add == Tri::unset ? base : add; }
inline Tri to_tri(int flag) { return flag ? Tri::on : Tri::off; }

template <class T>
const T* merge_ptr(const T* base, const T* add) {
    return add ? add : base;
}

}  // namespace cmi::httpd

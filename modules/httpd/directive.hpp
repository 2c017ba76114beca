// Directive-table and configuration helpers. In C++ httpd's command_rec::func
// is a `const char *(*)()`, so every handler needs a cast; the detour through
// `void (*)()` keeps -Wcast-function-type quiet. This is the only place it happens.
#pragma once
#include "httpd/barrier.hpp"
#include "httpd/httpd_includes.hpp"
#include "httpd/pool_object.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>

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

// What an inner section ends up with: its own value when it set one, else the
// outer one. Pointers are unset when null, enumerations when E::unset, numbers
// when not positive (a number that may be 0 is merged by hand).
template <class T>
T* inherit(T* base, T* add) {
    return add ? add : base;
}
template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
E inherit(E base, E add) {
    return add == E::unset ? base : add;
}
template <class N, std::enable_if_t<std::is_arithmetic_v<N>, int> = 0>
N inherit(N base, N add) {
    return add > 0 ? add : base;
}

// out.f = inherit(base.f, add.f) for each listed member f.
template <class C, class... T>
void inherit_fields(C& out, const C& base, const C& add, T C::*... fields) {
    ((out.*fields = inherit(base.*fields, add.*fields)), ...);
}

// httpd's configuration callbacks for a configuration struct C (default
// constructed: nothing set), owned by the pool. A merge is
// `merge_into(C& out, const C& base, const C& add, apr_pool_t* p)`, found by ADL.
template <class C>
void* create_dir_config(apr_pool_t* p, char*) {
    return pool_new<C>(p);
}
template <class C>
void* create_server_config(apr_pool_t* p, server_rec*) {
    return pool_new<C>(p);
}
template <class C>
void* merge_config(apr_pool_t* p, void* base, void* add) {
    C* out = pool_new<C>(p);
    merge_into(*out, *static_cast<const C*>(base), *static_cast<const C*>(add), p);
    return out;
}

// The one exported symbol of a mod_cmi module: its `module` struct, made of
// namespace `ns`'s DirConfig, ServerConfig (with the callbacks above),
// `directives` and `register_hooks`.
#define CMI_MODULE(name, ns)                                                                  \
    extern "C" {                                                                              \
    __attribute__((visibility("default"))) module AP_MODULE_DECLARE_DATA name##_module = {    \
        STANDARD20_MODULE_STUFF,                                                              \
        cmi::httpd::create_dir_config<ns::DirConfig>,                                         \
        cmi::httpd::merge_config<ns::DirConfig>,                                              \
        cmi::httpd::create_server_config<ns::ServerConfig>,                                   \
        cmi::httpd::merge_config<ns::ServerConfig>,                                           \
        ns::directives,                                                                       \
        ns::register_hooks,                                                                   \
        AP_MODULE_FLAG_NONE,                                                                  \
    };                                                                                        \
    }

// Directive handlers: `Set(cmd, config, args...)` with the per-directory
// configuration as a C& (or the void* httpd passes, for server-wide settings),
// run through the barrier. It returns nullptr or an error message, or throws
// std::invalid_argument, whose text becomes the message.
template <class F>
struct handler_of;
template <class C, class... A>
struct handler_of<const char* (*)(cmd_parms*, C&, A...)> {
    template <const char* (*Set)(cmd_parms*, C&, A...)>
    static const char* call(cmd_parms* cmd, void* cfg, A... args) noexcept {
        return directive_barrier(cmd, [&] { return Set(cmd, *static_cast<C*>(cfg), args...); });
    }
};
template <class... A>
struct handler_of<const char* (*)(cmd_parms*, void*, A...)> {
    template <const char* (*Set)(cmd_parms*, void*, A...)>
    static const char* call(cmd_parms* cmd, void* cfg, A... args) noexcept {
        return directive_barrier(cmd, [&] { return Set(cmd, cfg, args...); });
    }
};

// The command_rec func of `Set` (see handler_of).
template <auto Set>
cmd_func handler() {
    return as_cmd(&handler_of<decltype(Set)>::template call<Set>);
}

template <class M>
struct member_class;
template <class C, class T>
struct member_class<T C::*> {
    using type = C;
};

// A FLAG directive's handler that sets the Tri at a member path of the
// per-directory configuration: set_flag<&DirConfig::spool>, or
// set_flag<&DirConfig::manifest, &ManifestConfig::enabled>.
template <auto First, auto... Rest>
const char* set_flag(cmd_parms*, void* cfg, int on) noexcept {
    auto* c = static_cast<typename member_class<decltype(First)>::type*>(cfg);
    ((c->*First) .* ... .* Rest) = to_tri(on);
    return nullptr;
}

// A TAKE1 directive's handler that stores Parse(cmd, arg, Hint) at a member
// path of the per-directory configuration (as set_flag), converted to the
// member's type. Parse is one of the argument parsers below (or one of the same
// shape); Hint is its message, a constexpr char array:
// set_arg<file_arg<TrustAnchors>, kAnchorsHint, &DirConfig::anchors>,
// set_arg<number_in<1, 86400>, kMaxAgeHint, &DirConfig::signature_max_age>.
template <auto Parse, const char* Hint, auto First, auto... Rest>
const char* set_arg(cmd_parms* cmd, void* cfg, const char* arg) {
    auto* c = static_cast<typename member_class<decltype(First)>::type*>(cfg);
    auto& field = ((c->*First) .* ... .* Rest);
    field = static_cast<std::remove_reference_t<decltype(field)>>(Parse(cmd, arg, Hint));
    return nullptr;
}

// A non-empty argument, copied into the configuration pool; else
// std::invalid_argument(`if_empty`).
const char* text_arg(cmd_parms* cmd, const char* arg, const char* if_empty);

// A whole number from `min` to `max`; else std::invalid_argument
// "'<arg>' is not <what>" (`what` says what it should be and how to write it).
long long number_arg(const char* arg, long long min, long long max, const char* what);

// number_arg from `Min` to `Max`, in the shape of set_arg's Parse.
template <long long Min, long long Max>
long long number_in(cmd_parms*, const char* arg, const char* what) {
    return number_arg(arg, Min, Max, what);
}

// A file the server reads as it starts (a path relative to ServerRoot), made
// into a T owned by the configuration pool; a T that cannot be made (its
// constructor throws std::runtime_error) makes the directive fail, with `hint`
// after the reason.
template <class T>
const T* file_arg(cmd_parms* cmd, const char* arg, const char* hint) {
    const char* path = ap_server_root_relative(cmd->pool, arg);
    if (!path) throw std::invalid_argument(std::string("invalid path '") + arg + "'");
    try {
        return pool_new<T>(cmd->pool, path);
    } catch (const std::runtime_error& e) {
        throw std::invalid_argument(std::string(e.what()) + "; " + hint);
    }
}

}  // namespace cmi::httpd

// Turning -errno into JS errors: one helper, used by every syscall wrapper.
#pragma once

#include <napi.h>

#include <string>

namespace nicring {

// A JS Error with errno, code (uv_err_name), syscall and ifname set. The
// message reads "<syscall> <ifname>: <strerror> (<CODE>)" then the hint.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                       const std::string& ifname, const std::string& hint = "");

// Throw ErrnoError as a pending JS exception (the addon builds without C++
// exceptions: callers return right after).
void ThrowErrno(Napi::Env env, int err, const char* syscall,
                const std::string& ifname, const std::string& hint = "");

// What to do about a failure: privilege, memlock, missing interface, mode.
std::string HintFor(int err, const char* syscall);

}  // namespace nicring

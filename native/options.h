// Reading the option objects that JS passes to the addon's functions. Each
// reader throws a TypeError naming the field and returns false when it is
// missing or of the wrong type.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace nicring {

bool ReadU32(Napi::Object object, const char* name, uint32_t* value);
bool ReadString(Napi::Object object, const char* name, std::string* value);
// The first argument of `method` as a function.
bool ReadCallback(const Napi::CallbackInfo& info, const char* method, Napi::Function* callback);
// The second argument of `method` as a delay in ms (0 to 2^31-1).
bool ReadDelay(const Napi::CallbackInfo& info, const char* method, uint32_t* delayMs);

// The interface's index in the calling thread's network namespace; throws
// (ENODEV when the name is too long) and returns 0 when there is none.
int InterfaceIndex(Napi::Env env, const std::string& ifname);

}  // namespace nicring

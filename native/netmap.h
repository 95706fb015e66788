// The netmap backend's native half: register, mmap, sync, watch, close.
#pragma once

#include <napi.h>

namespace nicring {

// Adds netmapOpen and netmapLayout to the addon's exports.
void InitNetmap(Napi::Env env, Napi::Object exports);

}  // namespace nicring

// The monotonic clock read into a cell JS reuses: a native function that
// returned the time would put a new heap number on V8's heap at every read.
#pragma once

#include <napi.h>

namespace nicring {

void InitClock(Napi::Env env, Napi::Object exports);

}  // namespace nicring

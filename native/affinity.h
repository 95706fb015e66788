// Pinning the calling thread to CPUs: Node cannot do it for a worker thread,
// and taskset pins a whole process.
#pragma once

#include <napi.h>

namespace nicring {

void InitAffinity(Napi::Env env, Napi::Object exports);

}  // namespace nicring

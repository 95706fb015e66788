// The addon's entry point: the AF_XDP and netmap halves, the load
// generator's reply counter, thread pinning and the clock add their functions.
#include <napi.h>

#include "affinity.h"
#include "clock.h"
#include "counter.h"
#include "netmap.h"
#include "xdp.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  nicring::InitXdp(env, exports);
  nicring::InitNetmap(env, exports);
  nicring::InitCounter(env, exports);
  nicring::InitAffinity(env, exports);
  nicring::InitClock(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(nicring, Init)

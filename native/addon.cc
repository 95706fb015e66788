// The addon's entry point: the AF_XDP and netmap halves, and the load
// generator's reply counter, add their functions.
#include <napi.h>

#include "counter.h"
#include "netmap.h"
#include "xdp.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  nicring::InitXdp(env, exports);
  nicring::InitNetmap(env, exports);
  nicring::InitCounter(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(nicring, Init)

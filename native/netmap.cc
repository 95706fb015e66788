#include "netmap.h"

namespace nicring {

void InitNetmap(Napi::Env env, Napi::Object exports) {
  (void)env;
  (void)exports;
}

}  // namespace nicring

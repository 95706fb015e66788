#include "clock.h"

#include <uv.h>

namespace nicring {

namespace {

// readClock(cell): writes libuv's monotonic clock (uv_hrtime), in
// milliseconds, into cell[0]. The JS side passes a Float64Array of length 1.
Napi::Value ReadClock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::TypedArray>().ElementLength() < 1) {
    Napi::TypeError::New(env, "readClock: cell must be a Float64Array of at least one element").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Float64Array cell = info[0].As<Napi::Float64Array>();
  cell[0] = static_cast<double>(uv_hrtime()) / 1e6;
  return env.Undefined();
}

}  // namespace

void InitClock(Napi::Env env, Napi::Object exports) {
  exports.Set("readClock", Napi::Function::New(env, ReadClock, "readClock"));
}

}  // namespace nicring

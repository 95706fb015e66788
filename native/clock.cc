#include "clock.h"

#include <uv.h>

namespace nicring {

namespace {

bool IsFloat64Array(const Napi::Value& value, size_t minLength) {
  return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array &&
         value.As<Napi::TypedArray>().ElementLength() >= minLength;
}

// readClock(cell): writes libuv's monotonic clock (uv_hrtime), in
// milliseconds, into cell[0]. The JS side passes a Float64Array of length 1.
Napi::Value ReadClock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !IsFloat64Array(info[0], 1)) {
    Napi::TypeError::New(env, "readClock: cell must be a Float64Array of at least one element").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Float64Array cell = info[0].As<Napi::Float64Array>();
  cell[0] = static_cast<double>(uv_hrtime()) / 1e6;
  return env.Undefined();
}

// tickClock(cells, offset): the loop's clock read once a turn. Writes the
// monotonic clock in milliseconds plus offset[0] into cells[0] and returns
// whether that has reached cells[1] (the earliest timer), so that neither the
// time nor the comparison's operands pass through JS: code V8 has not
// optimized (the loop's turn runs too seldom to be) boxes every double it
// reads.
Napi::Value TickClock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !IsFloat64Array(info[0], 2) || !IsFloat64Array(info[1], 1)) {
    Napi::TypeError::New(env, "tickClock: cells must be a Float64Array of at least two elements, offset one of at least one")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Float64Array cells = info[0].As<Napi::Float64Array>();
  Napi::Float64Array offset = info[1].As<Napi::Float64Array>();
  cells[0] = static_cast<double>(uv_hrtime()) / 1e6 + offset[0];
  return Napi::Boolean::New(env, cells[0] >= cells[1]);
}

}  // namespace

void InitClock(Napi::Env env, Napi::Object exports) {
  exports.Set("readClock", Napi::Function::New(env, ReadClock, "readClock"));
  exports.Set("tickClock", Napi::Function::New(env, TickClock, "tickClock"));
}

}  // namespace nicring

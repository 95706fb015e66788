#include "options.h"

#include <net/if.h>

#include <cerrno>

#include "errors.h"

namespace nicring {

bool ReadU32(Napi::Object object, const char* name, uint32_t* value) {
  Napi::Value field = object.Get(name);
  if (!field.IsNumber()) {
    Napi::TypeError::New(object.Env(), std::string("options.") + name + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  *value = field.As<Napi::Number>().Uint32Value();
  return true;
}

bool ReadString(Napi::Object object, const char* name, std::string* value) {
  Napi::Value field = object.Get(name);
  if (!field.IsString()) {
    Napi::TypeError::New(object.Env(), std::string("options.") + name + " must be a string")
        .ThrowAsJavaScriptException();
    return false;
  }
  *value = field.As<Napi::String>().Utf8Value();
  return true;
}

bool ReadCallback(const Napi::CallbackInfo& info, const char* method, Napi::Function* callback) {
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(info.Env(), std::string(method) + ": callback must be a function").ThrowAsJavaScriptException();
    return false;
  }
  *callback = info[0].As<Napi::Function>();
  return true;
}

bool ReadDelay(const Napi::CallbackInfo& info, const char* method, uint32_t* delayMs) {
  double value = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  if (!(value >= 0 && value <= 2147483647.0)) {
    Napi::RangeError::New(info.Env(), std::string(method) + ": delayMs must be a number from 0 to 2147483647")
        .ThrowAsJavaScriptException();
    return false;
  }
  *delayMs = static_cast<uint32_t>(value);
  return true;
}

int InterfaceIndex(Napi::Env env, const std::string& ifname) {
  unsigned int ifindex = ifname.size() < IFNAMSIZ ? if_nametoindex(ifname.c_str()) : 0;
  if (ifindex == 0) ThrowErrno(env, ifname.size() < IFNAMSIZ ? errno : ENODEV, "if_nametoindex", ifname);
  return static_cast<int>(ifindex);
}

}  // namespace nicring

// The load generator's reply counter: an XDP program that counts and drops
// the replies from one address and port inside the kernel, so that a flood's
// replies cost no copy and no JS. Everything else goes on to the kernel.
#pragma once

#include <napi.h>

#include <string>

namespace nicring {

class XdpCounter : public Napi::ObjectWrap<XdpCounter> {
 public:
  static Napi::Function Class(Napi::Env env);
  explicit XdpCounter(const Napi::CallbackInfo& info);
  ~XdpCounter() override;

 private:
  Napi::Value Value(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void Release();

  std::string ifname_;
  int mapFd_ = -1;
  int progFd_ = -1;
  int linkFd_ = -1;
};

// Adds xdpCounterAttach({ ifname, address, port, mode }) to `exports`.
void InitCounter(Napi::Env env, Napi::Object exports);

}  // namespace nicring

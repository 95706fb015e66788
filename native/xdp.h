// The AF_XDP backend's native half: one XdpPort per (interface, queue) — an
// AF_XDP socket, its UMEM and four mapped rings, lent to JS as external
// ArrayBuffers. The ring logic lives in TypeScript (src/phy/); this side only
// sets up, kicks, watches, reports statistics and closes.
#pragma once

#include <napi.h>
#include <linux/if_xdp.h>

#include <cstdint>
#include <string>

#include "attachment.h"
#include "mapping.h"
#include "watch.h"

namespace nicring {

struct XdpEnvironment;

// One mapped ring and where its fields are inside the mapping.
struct XdpRing {
  SharedMapping* mapping = nullptr;
  struct xdp_ring_offset offsets = {};
  uint32_t size = 0;
};

// Everything an open port holds, before and after it gets its JS object.
struct XdpPortResources {
  std::string ifname;
  InterfaceKey interface;
  uint32_t queue = 0;
  XdpAttachMode mode = XdpAttachMode::kNative;
  bool queueClaimed = false;
  int fd = -1;
  bool zeroCopy = false;
  bool needWakeup = false;
  // Bound with XDP_USE_SG: a frame larger than a chunk comes in several descriptors.
  bool multiBuffer = false;
  uint32_t txBudget = 0;
  SharedMapping* umem = nullptr;
  XdpRing rx;
  XdpRing tx;
  XdpRing fill;
  XdpRing completion;
};

// The JS object returned by xdpOpen (see XdpPort in src/native.ts).
class XdpPort : public Napi::ObjectWrap<XdpPort> {
 public:
  static Napi::Function Class(Napi::Env env);
  explicit XdpPort(const Napi::CallbackInfo& info);
  ~XdpPort() override;

  // Closes the port without touching JS values (environment teardown).
  void CloseForTeardown() { Shutdown(true); }

 private:
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value Kick(const Napi::CallbackInfo& info);
  Napi::Value Wakeup(const Napi::CallbackInfo& info);
  Napi::Value Statistics(const Napi::CallbackInfo& info);
  Napi::Value Watch(const Napi::CallbackInfo& info);
  Napi::Value Unwatch(const Napi::CallbackInfo& info);
  Napi::Value Defer(const Napi::CallbackInfo& info);
  Napi::Value Later(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  bool ThrowIfClosed(Napi::Env env, const char* syscall);
  bool ExposeMappings(Napi::Env env, Napi::Object self);
  // Stops the watch, frees the queue, closes the socket and releases the
  // mappings; with `revokeBuffers` the ArrayBuffers are detached and the
  // memory unmapped at once.
  void Shutdown(bool revokeBuffers);

  XdpPortResources resources_;
  XdpEnvironment* environment_ = nullptr;
  bool closed_ = true;
  FdWatch watch_;
  Deferral deferral_;
  Deferral later_;
};

// Adds xdpOpen and xdpTestRunLive to the addon's exports.
void InitXdp(Napi::Env env, Napi::Object exports);

}  // namespace nicring

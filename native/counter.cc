#include "counter.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>

#include "attachment.h"
#include "bpf.h"
#include "errors.h"
#include "options.h"

namespace nicring {

namespace {

struct CounterEnvironment {
  Napi::FunctionReference constructor;
};

void CleanupEnvironment(void* data) { delete static_cast<CounterEnvironment*>(data); }

}  // namespace

Napi::Function XdpCounter::Class(Napi::Env env) {
  return DefineClass(env, "XdpCounter",
                     {InstanceMethod<&XdpCounter::Value>("value"), InstanceMethod<&XdpCounter::Close>("close")});
}

// new XdpCounter({ ifname, address, port, mode }): attaches on construction.
XdpCounter::XdpCounter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<XdpCounter>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "xdpCounterAttach: options must be an object").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object options = info[0].As<Napi::Object>();
  std::string address;
  std::string mode;
  uint32_t port = 0;
  if (!ReadString(options, "ifname", &ifname_) || !ReadString(options, "address", &address) ||
      !ReadU32(options, "port", &port) || !ReadString(options, "mode", &mode))
    return;
  struct in_addr wire;
  if (inet_pton(AF_INET, address.c_str(), &wire) != 1 || port < 1 || port > 65535) {
    Napi::RangeError::New(env, "xdpCounterAttach: address must be dotted IPv4 and port 1 to 65535")
        .ThrowAsJavaScriptException();
    return;
  }
  if (mode != "native" && mode != "generic") {
    Napi::RangeError::New(env, "xdpCounterAttach: mode must be 'native' or 'generic'").ThrowAsJavaScriptException();
    return;
  }
  XdpAttachMode attachMode = mode == "native" ? XdpAttachMode::kNative : XdpAttachMode::kGeneric;
  int ifindex = InterfaceIndex(env, ifname_);
  if (ifindex == 0) return;
  mapFd_ = CreateCounterMap();
  if (mapFd_ < 0) {
    ThrowErrno(env, mapFd_, "bpf(BPF_MAP_CREATE)", ifname_);
    return;
  }
  std::string verifierLog;
  progFd_ = LoadCounterProgram(mapFd_, wire.s_addr, htons(static_cast<uint16_t>(port)), &verifierLog);
  if (progFd_ < 0) {
    ThrowErrno(env, progFd_, "bpf(BPF_PROG_LOAD)", ifname_,
               verifierLog.empty() ? "" : "The verifier said:\n" + verifierLog);
    return;
  }
  linkFd_ = AttachXdpLink(progFd_, ifindex, attachMode);
  if (linkFd_ < 0) ThrowErrno(env, linkFd_, "bpf(BPF_LINK_CREATE)", ifname_, AttachHint(linkFd_, ifname_, attachMode));
}

XdpCounter::~XdpCounter() { Release(); }

void XdpCounter::Release() {
  // The link goes first: the program detaches as its last link closes.
  for (int* fd : {&linkFd_, &progFd_, &mapFd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

Napi::Value XdpCounter::Value(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (mapFd_ < 0 || linkFd_ < 0) {
    ThrowErrno(env, EBADF, "bpf(BPF_MAP_LOOKUP_ELEM)", ifname_, "The counter is closed.");
    return env.Undefined();
  }
  uint64_t value = 0;
  int rc = ReadCounter(mapFd_, &value);
  if (rc < 0) {
    ThrowErrno(env, rc, "bpf(BPF_MAP_LOOKUP_ELEM)", ifname_);
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(value));
}

Napi::Value XdpCounter::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

namespace {

Napi::Value XdpCounterAttach(const Napi::CallbackInfo& info) {
  auto* environment = static_cast<CounterEnvironment*>(info.Data());
  Napi::Value options = info.Length() > 0 ? info[0] : info.Env().Undefined();
  return environment->constructor.New({options});
}

}  // namespace

void InitCounter(Napi::Env env, Napi::Object exports) {
  auto* environment = new CounterEnvironment;
  environment->constructor = Napi::Persistent(XdpCounter::Class(env));
  napi_add_env_cleanup_hook(env, CleanupEnvironment, environment);
  exports.Set("xdpCounterAttach", Napi::Function::New(env, XdpCounterAttach, "xdpCounterAttach", environment));
}

}  // namespace nicring

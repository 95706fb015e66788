#include "errors.h"

#include <uv.h>

#include <cerrno>
#include <cstring>

namespace nicring {

std::string HintFor(int err, const char* syscall) {
  const std::string call = syscall;
  switch (err) {
    case EPERM:
    case EACCES:
      if (call.rfind("bpf", 0) == 0)
        return "Loading XDP programs needs CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN): run as root or grant them.";
      if (call == "socket")
        return "AF_XDP sockets need CAP_NET_RAW: run as root or grant it.";
      if (call.find("netmap") != std::string::npos || call == "open")
        return "/dev/netmap needs read/write access: run as root or change its permissions.";
      return "Missing privilege: nicring needs CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF and CAP_IPC_LOCK (or root).";
    case ENOBUFS:
    case ENOMEM:
      if (call == "setsockopt(XDP_UMEM_REG)" || call == "mmap")
        return "The UMEM is locked memory: grant CAP_IPC_LOCK, raise the memlock limit (ulimit -l / --ulimit memlock=-1), or use fewer frames.";
      return "";
    case ENODEV:
    case ENXIO:
      return "No such interface in this network namespace: check `ip link`, or run inside the namespace (ip netns exec NS ...).";
    case EOPNOTSUPP:
      if (call.find("ZEROCOPY") != std::string::npos || call == "bind")
        return "The driver does not support this AF_XDP bind mode (veth supports copy mode only): use zeroCopy 'off' or 'auto'.";
      return "The driver does not support this XDP mode: try xdpMode 'generic'.";
    case EBUSY:
    case EEXIST:
      // netmap explains its own EBUSY (native/netmap.cc).
      if (call.find("NIOC") != std::string::npos || call.find("netmap") != std::string::npos) return "";
      return "The interface or queue is already in use (another XDP program or AF_XDP socket): close it first or pick another queue.";
    case EINVAL:
      if (call.rfind("bpf", 0) == 0)
        return "The kernel refused the XDP setup: it needs AF_XDP and bpf_link XDP support (Linux 5.9 or newer).";
      return "";
    case EAFNOSUPPORT:
      return "This kernel has no AF_XDP support (CONFIG_XDP_SOCKETS).";
    default:
      return "";
  }
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                       const std::string& ifname, const std::string& hint) {
  if (err < 0) err = -err;
  // libuv names 95 ENOTSUP; the socket and XDP calls mean EOPNOTSUPP.
  const char* code = err == EOPNOTSUPP ? "EOPNOTSUPP" : uv_err_name(-err);
  std::string message = syscall;
  if (!ifname.empty()) message += " " + ifname;
  message += ": ";
  message += std::strerror(err);
  message += " (";
  message += code;
  message += ")";
  std::string advice = hint.empty() ? HintFor(err, syscall) : hint;
  if (!advice.empty()) message += ". " + advice;
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("errno", Napi::Number::New(env, err));
  obj.Set("code", Napi::String::New(env, code));
  obj.Set("syscall", Napi::String::New(env, syscall));
  if (!ifname.empty()) obj.Set("ifname", Napi::String::New(env, ifname));
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall,
                const std::string& ifname, const std::string& hint) {
  ErrnoError(env, err, syscall, ifname, hint).ThrowAsJavaScriptException();
}

}  // namespace nicring

// The netmap backend's native half: open /dev/netmap, register the port with
// NIOCCTRL, map the shared region and hand it to JS as one external
// ArrayBuffer. JS walks the rings itself; this file only syncs, watches the
// fd and closes.
#include "netmap.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "errors.h"
#include "options.h"
#include "mapping.h"
#include "netmap-abi.h"
#include "watch.h"

namespace nicring {

namespace {

const char* const kNotLoadedHint =
    "netmap is not loaded: load the module with `modprobe netmap` (or build netmap from "
    "https://github.com/luigirizzo/netmap and insmod it), or use backend 'xdp'.";

// netmap's own advice for its syscalls; HintFor covers the rest (privileges,
// a missing interface).
std::string NetmapHint(int err, const char* syscall) {
  const std::string call = syscall;
  if (call == "open(/dev/netmap)" && (err == ENOENT || err == ENXIO || err == ENODEV))
    return kNotLoadedHint;
  if (call == "ioctl(NIOCCTRL)") {
    switch (err) {
      case EINVAL:
        return "netmap refused the registration: check the port name and ring index "
               "(nicring speaks netmap API 14).";
      case EBUSY:
        return "netmap refused the rings as busy: another port holds them exclusively (a name ending in /x), "
               "or this port asks for them with /x while another port has them open: close the other "
               "port, or drop the /x.";
      case EOPNOTSUPP:
        return "This interface does not support the requested netmap mode.";
      case ENOMEM:
        return "netmap could not allocate rings or buffers for this port.";
      default:
        return "";
    }
  }
  if (call == "mmap" && err == ENOMEM)
    return "The netmap memory region could not be mapped (address space or memory limits).";
  return "";
}

void ThrowNetmap(Napi::Env env, int err, const char* syscall, const std::string& name) {
  ThrowErrno(env, err, syscall, name, NetmapHint(err, syscall));
}

// A registered, mapped port on its way from netmapOpen to its JS object.
struct Registration {
  int fd = -1;
  std::string name;
  SharedMapping* mapping = nullptr;
  netmap::ReqRegister reply = {};
};

class NetmapPort;

// Per-environment state: the port class for netmapOpen, and the open ports
// to close when the environment (a worker thread, say) goes away.
struct NetmapEnvironment {
  Napi::FunctionReference constructor;
  std::unordered_set<NetmapPort*> openPorts;
};

// The JS object netmapOpen returns (NetmapPort in src/native.ts).
class NetmapPort : public Napi::ObjectWrap<NetmapPort> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "NetmapPort",
                       {
                           InstanceAccessor<&NetmapPort::Fd>("fd"),
                           InstanceMethod<&NetmapPort::TxSync>("txSync"),
                           InstanceMethod<&NetmapPort::RxSync>("rxSync"),
                           InstanceMethod<&NetmapPort::Watch>("watch"),
                           InstanceMethod<&NetmapPort::Unwatch>("unwatch"),
                           InstanceMethod<&NetmapPort::Defer>("defer"),
                           InstanceMethod<&NetmapPort::Later>("later"),
                           InstanceMethod<&NetmapPort::Close>("close"),
                       });
  }

  explicit NetmapPort(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetmapPort>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 2 || !info[0].IsExternal() || !info[1].IsExternal()) {
      Napi::TypeError::New(env, "NetmapPort objects are made by netmapOpen()").ThrowAsJavaScriptException();
      return;
    }
    Registration* registration = info[0].As<Napi::External<Registration>>().Data();
    environment_ = info[1].As<Napi::External<NetmapEnvironment>>().Data();
    fd_ = registration->fd;
    name_ = registration->name;
    mapping_ = registration->mapping;
    registration->fd = -1;
    registration->mapping = nullptr;
    environment_->openPorts.insert(this);
    if (!Expose(env, info.This().As<Napi::Object>(), registration->reply)) Shutdown(true);
  }

  // Collected without close(): the buffer may outlive the port, so the
  // mapping stays until the buffer's finalizer.
  ~NetmapPort() override { Shutdown(false); }

  // Environment teardown: close as close() would.
  void CloseForTeardown() { Shutdown(true); }

 private:
  bool Expose(Napi::Env env, Napi::Object self, const netmap::ReqRegister& reply) {
    napi_value memory;
    if (mapping_->CreateArrayBuffer(env, &memory) != napi_ok) {
      if (!env.IsExceptionPending())
        Napi::Error::New(env, "netmapOpen: cannot create an external ArrayBuffer").ThrowAsJavaScriptException();
      return false;
    }
    const auto attributes = napi_enumerable;
    auto number = [&](double value) { return Napi::Number::New(env, value); };
    self.DefineProperties({
        Napi::PropertyDescriptor::Value("ifname", Napi::String::New(env, name_), attributes),
        Napi::PropertyDescriptor::Value("memory", memory, attributes),
        Napi::PropertyDescriptor::Value("ifOffset", number(static_cast<double>(reply.nr_offset)), attributes),
        Napi::PropertyDescriptor::Value("memsize", number(static_cast<double>(reply.nr_memsize)), attributes),
        Napi::PropertyDescriptor::Value("txRings", number(reply.nr_tx_rings), attributes),
        Napi::PropertyDescriptor::Value("rxRings", number(reply.nr_rx_rings), attributes),
        Napi::PropertyDescriptor::Value("hostTxRings", number(reply.nr_host_tx_rings), attributes),
        Napi::PropertyDescriptor::Value("hostRxRings", number(reply.nr_host_rx_rings), attributes),
        Napi::PropertyDescriptor::Value("txSlots", number(reply.nr_tx_slots), attributes),
        Napi::PropertyDescriptor::Value("rxSlots", number(reply.nr_rx_slots), attributes),
        Napi::PropertyDescriptor::Value("memId", number(reply.nr_mem_id), attributes),
    });
    return !env.IsExceptionPending();
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  Napi::Value TxSync(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), Sync(netmap::kIocTxSync));
  }

  Napi::Value RxSync(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), Sync(netmap::kIocRxSync));
  }

  int Sync(unsigned long request) {  // NOLINT(runtime/int)
    if (fd_ < 0) return -EBADF;
    return ioctl(fd_, request) < 0 ? -errno : 0;
  }

  Napi::Value Watch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (ThrowIfClosed(env, "uv_poll_start")) return env.Undefined();
    Napi::Function callback;
    if (!ReadCallback(info, "watch", &callback)) return env.Undefined();
    const bool wasWatching = watch_.active();
    int rc = watch_.Start(env, fd_, callback);
    if (rc != 0) {
      if (wasWatching) Unref();
      ThrowErrno(env, rc, "uv_poll_start", name_);
      return env.Undefined();
    }
    // Like any libuv handle, a watched port stays alive until unwatch or close.
    if (!wasWatching) Ref();
    return env.Undefined();
  }

  Napi::Value Unwatch(const Napi::CallbackInfo& info) {
    StopWatch();
    return info.Env().Undefined();
  }

  Napi::Value Defer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Function callback;
    if (ThrowIfClosed(env, "uv_timer_start") || !ReadCallback(info, "defer", &callback)) return env.Undefined();
    int rc = deferral_.Schedule(env, callback, 0);
    if (rc != 0) ThrowErrno(env, rc, "uv_timer_start", name_);
    return env.Undefined();
  }

  Napi::Value Later(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Function callback;
    uint32_t delayMs = 0;
    if (ThrowIfClosed(env, "uv_timer_start") || !ReadCallback(info, "later", &callback) || !ReadDelay(info, "later", &delayMs))
      return env.Undefined();
    int rc = later_.Schedule(env, callback, delayMs);
    if (rc != 0) ThrowErrno(env, rc, "uv_timer_start", name_);
    return env.Undefined();
  }

  // Throws EBADF for `syscall` on a closed port; returns whether it did.
  bool ThrowIfClosed(Napi::Env env, const char* syscall) {
    if (fd_ >= 0) return false;
    ThrowErrno(env, EBADF, syscall, name_, "The port is closed.");
    return true;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown(true);
    return info.Env().Undefined();
  }

  void StopWatch() {
    if (!watch_.active()) return;
    watch_.Stop();
    Unref();
  }

  // Stops the watch, releases the mapping (with `revoke`: detaches the
  // buffer and unmaps at once) and closes the fd, which unregisters the
  // port. Idempotent.
  void Shutdown(bool revoke) {
    if (revoke) {
      StopWatch();
    } else {
      watch_.Stop();  // finalizing: no references left to drop
    }
    watch_.Close();  // before the fd closes
    deferral_.Close();
    later_.Close();
    if (mapping_ != nullptr) {
      if (revoke) mapping_->Revoke();
      mapping_->Release();
      mapping_ = nullptr;
    }
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    if (environment_ != nullptr) environment_->openPorts.erase(this);
    environment_ = nullptr;
  }

  int fd_ = -1;
  std::string name_;
  SharedMapping* mapping_ = nullptr;
  NetmapEnvironment* environment_ = nullptr;
  FdWatch watch_;
  Deferral deferral_;
  Deferral later_;
};

void CleanupEnvironment(void* data) {
  auto* environment = static_cast<NetmapEnvironment*>(data);
  // Closing a port removes it from the set.
  std::vector<NetmapPort*> ports(environment->openPorts.begin(), environment->openPorts.end());
  for (NetmapPort* port : ports) port->CloseForTeardown();
  environment->constructor.Reset();
  delete environment;
}

uint32_t OptionU32(Napi::Object options, const char* key) {
  Napi::Value value = options.Get(key);
  return value.IsNumber() ? value.As<Napi::Number>().Uint32Value() : 0;
}

// netmapOpen({ name, mode, ringId, flags, txSlots, rxSlots }) -> NetmapPort
Napi::Value NetmapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* environment = static_cast<NetmapEnvironment*>(info.Data());
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "netmapOpen(options): options must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object options = info[0].As<Napi::Object>();
  Napi::Value nameValue = options.Get("name");
  if (!nameValue.IsString()) {
    Napi::TypeError::New(env, "netmapOpen(options): options.name must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string name = nameValue.As<Napi::String>().Utf8Value();

  netmap::ReqRegister reg;
  std::memset(&reg, 0, sizeof(reg));
  reg.nr_mode = OptionU32(options, "mode");
  reg.nr_ringid = static_cast<uint16_t>(OptionU32(options, "ringId"));
  reg.nr_flags = OptionU32(options, "flags");
  reg.nr_tx_slots = OptionU32(options, "txSlots");
  reg.nr_rx_slots = OptionU32(options, "rxSlots");

  netmap::ReqHeader header;
  std::memset(&header, 0, sizeof(header));
  header.nr_version = netmap::kApiVersion;
  header.nr_reqtype = netmap::kReqRegister;
  std::memcpy(header.nr_name, name.data(), std::min(name.size(), sizeof(header.nr_name) - 1));
  header.nr_body = reinterpret_cast<uintptr_t>(&reg);

  const int fd = open("/dev/netmap", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    ThrowNetmap(env, errno, "open(/dev/netmap)", name);
    return env.Undefined();
  }
  if (ioctl(fd, netmap::kIocCtrl, &header) < 0) {
    const int err = errno;
    close(fd);
    ThrowNetmap(env, err, "ioctl(NIOCCTRL)", name);
    return env.Undefined();
  }
  if (reg.nr_memsize == 0 || reg.nr_offset >= reg.nr_memsize) {
    close(fd);
    ThrowErrno(env, EPROTO, "ioctl(NIOCCTRL)", name,
               "netmap replied with an offset outside its memory region.");
    return env.Undefined();
  }
  void* addr = mmap(nullptr, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    const int err = errno;
    close(fd);
    ThrowNetmap(env, err, "mmap", name);
    return env.Undefined();
  }

  Registration registration;
  registration.fd = fd;
  registration.name = name;
  registration.mapping = SharedMapping::Adopt(addr, reg.nr_memsize);
  registration.reply = reg;
  Napi::Object port = environment->constructor.New(
      {Napi::External<Registration>::New(env, &registration), Napi::External<NetmapEnvironment>::New(env, environment)});
  // The constructor adopts the fd and the mapping; if it never ran, they are still ours.
  if (registration.mapping != nullptr) registration.mapping->Release();
  if (registration.fd >= 0) close(registration.fd);
  if (env.IsExceptionPending()) return env.Undefined();
  return port;
}

// netmapLayout(): sizes, offsets and ioctl numbers as this addon was compiled.
Napi::Value NetmapLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object layout = Napi::Object::New(env);
  auto put = [&](const char* key, double value) { layout.Set(key, Napi::Number::New(env, value)); };
  using netmap::InterfaceHeader;
  using netmap::ReqHeader;
  using netmap::ReqRegister;
  using netmap::RingHeader;
  using netmap::Slot;

  put("nmreq_header.size", sizeof(ReqHeader));
  put("nmreq_header.nr_version", offsetof(ReqHeader, nr_version));
  put("nmreq_header.nr_reqtype", offsetof(ReqHeader, nr_reqtype));
  put("nmreq_header.nr_reserved", offsetof(ReqHeader, nr_reserved));
  put("nmreq_header.nr_name", offsetof(ReqHeader, nr_name));
  put("nmreq_header.nr_options", offsetof(ReqHeader, nr_options));
  put("nmreq_header.nr_body", offsetof(ReqHeader, nr_body));

  put("nmreq_register.size", sizeof(ReqRegister));
  put("nmreq_register.nr_offset", offsetof(ReqRegister, nr_offset));
  put("nmreq_register.nr_memsize", offsetof(ReqRegister, nr_memsize));
  put("nmreq_register.nr_tx_slots", offsetof(ReqRegister, nr_tx_slots));
  put("nmreq_register.nr_rx_slots", offsetof(ReqRegister, nr_rx_slots));
  put("nmreq_register.nr_tx_rings", offsetof(ReqRegister, nr_tx_rings));
  put("nmreq_register.nr_rx_rings", offsetof(ReqRegister, nr_rx_rings));
  put("nmreq_register.nr_host_tx_rings", offsetof(ReqRegister, nr_host_tx_rings));
  put("nmreq_register.nr_host_rx_rings", offsetof(ReqRegister, nr_host_rx_rings));
  put("nmreq_register.nr_mem_id", offsetof(ReqRegister, nr_mem_id));
  put("nmreq_register.nr_ringid", offsetof(ReqRegister, nr_ringid));
  put("nmreq_register.nr_mode", offsetof(ReqRegister, nr_mode));
  put("nmreq_register.nr_extra_bufs", offsetof(ReqRegister, nr_extra_bufs));
  put("nmreq_register.nr_flags", offsetof(ReqRegister, nr_flags));

  put("netmap_if.ni_name", offsetof(InterfaceHeader, ni_name));
  put("netmap_if.ni_version", offsetof(InterfaceHeader, ni_version));
  put("netmap_if.ni_flags", offsetof(InterfaceHeader, ni_flags));
  put("netmap_if.ni_tx_rings", offsetof(InterfaceHeader, ni_tx_rings));
  put("netmap_if.ni_rx_rings", offsetof(InterfaceHeader, ni_rx_rings));
  put("netmap_if.ni_bufs_head", offsetof(InterfaceHeader, ni_bufs_head));
  put("netmap_if.ni_host_tx_rings", offsetof(InterfaceHeader, ni_host_tx_rings));
  put("netmap_if.ni_host_rx_rings", offsetof(InterfaceHeader, ni_host_rx_rings));
  put("netmap_if.ring_ofs", netmap::kIfRingOffsets);

  put("netmap_ring.buf_ofs", offsetof(RingHeader, buf_ofs));
  put("netmap_ring.num_slots", offsetof(RingHeader, num_slots));
  put("netmap_ring.nr_buf_size", offsetof(RingHeader, nr_buf_size));
  put("netmap_ring.ringid", offsetof(RingHeader, ringid));
  put("netmap_ring.dir", offsetof(RingHeader, dir));
  put("netmap_ring.head", offsetof(RingHeader, head));
  put("netmap_ring.cur", offsetof(RingHeader, cur));
  put("netmap_ring.tail", offsetof(RingHeader, tail));
  put("netmap_ring.flags", offsetof(RingHeader, flags));
  put("netmap_ring.ts", offsetof(RingHeader, ts));
  put("netmap_ring.slot", netmap::kRingSlots);

  put("netmap_slot.size", sizeof(Slot));
  put("netmap_slot.buf_idx", offsetof(Slot, buf_idx));
  put("netmap_slot.len", offsetof(Slot, len));
  put("netmap_slot.flags", offsetof(Slot, flags));
  put("netmap_slot.ptr", offsetof(Slot, ptr));

  put("NIOCCTRL", static_cast<double>(netmap::kIocCtrl));
  put("NIOCTXSYNC", static_cast<double>(netmap::kIocTxSync));
  put("NIOCRXSYNC", static_cast<double>(netmap::kIocRxSync));
  put("NETMAP_API", netmap::kApiVersion);
  return layout;
}

}  // namespace

void InitNetmap(Napi::Env env, Napi::Object exports) {
  auto* environment = new NetmapEnvironment;
  environment->constructor = Napi::Persistent(NetmapPort::Class(env));
  napi_add_env_cleanup_hook(env, CleanupEnvironment, environment);
  exports.Set("netmapOpen", Napi::Function::New(env, NetmapOpen, "netmapOpen", environment));
  exports.Set("netmapLayout", Napi::Function::New(env, NetmapLayout, "netmapLayout"));
}

}  // namespace nicring

#include "xdp.h"

#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "bpf.h"
#include "errors.h"
#include "options.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9
#endif
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif

namespace nicring {

// Per-environment state (the main thread and each worker have their own).
struct XdpEnvironment {
  Napi::FunctionReference constructor;
  std::set<XdpPort*> openPorts;
};

namespace {

// A socket bound right after another one on the same queue closed may meet
// EBUSY while the kernel finishes tearing the old one down.
constexpr int kBindAttempts = 10;
constexpr useconds_t kBindRetryDelayUs = 20 * 1000;
constexpr uint32_t kMaxLiveFrameRepeat = 100000000;

// struct xdp_umem_reg as of Linux 6.8. It must be zeroed: 6.8-6.10 read the
// padding of the older 32-byte layout as tx_metadata_len.
struct UmemRegistration {
  uint64_t addr;
  uint64_t len;
  uint32_t chunk_size;
  uint32_t headroom;
  uint32_t flags;
  uint32_t tx_metadata_len;
};
static_assert(sizeof(UmemRegistration) == 32, "xdp_umem_reg is 32 bytes");
// Before Linux 5.4 the structure ended after headroom.
constexpr socklen_t kUmemRegistrationWithoutFlags = 24;

enum class ZeroCopy { kAuto, kOn, kOff };
enum class MultiBuffer { kAuto, kOn, kOff };

struct XdpOpenOptions {
  std::string ifname;
  uint32_t queue = 0;
  XdpAttachMode mode = XdpAttachMode::kNative;
  uint32_t frameSize = 0;
  uint32_t frameCount = 0;
  uint32_t rxSize = 0;
  uint32_t txSize = 0;
  uint32_t fillSize = 0;
  uint32_t completionSize = 0;
  bool needWakeup = false;
  ZeroCopy zeroCopy = ZeroCopy::kAuto;
  MultiBuffer multiBuffer = MultiBuffer::kAuto;
  uint32_t txBudget = 0;
};

// What xdpOpen hands to the XdpPort constructor through an External.
struct PendingPort {
  XdpEnvironment* environment;
  XdpPortResources resources;
  bool adopted = false;
};

// Closes whatever a port holds without touching JS values.
void ReleaseResources(XdpPortResources* resources) {
  if (resources->queueClaimed) {
    ReleaseQueue(resources->interface, resources->queue);
    resources->queueClaimed = false;
  }
  for (SharedMapping** mapping : {&resources->umem, &resources->rx.mapping, &resources->tx.mapping,
                                  &resources->fill.mapping, &resources->completion.mapping}) {
    if (*mapping == nullptr) continue;
    (*mapping)->Release();
    *mapping = nullptr;
  }
  if (resources->fd >= 0) {
    close(resources->fd);
    resources->fd = -1;
  }
}

bool SetRingSize(int fd, int option, uint32_t size, const char* syscall, SyscallFailure* failure) {
  int entries = static_cast<int>(size);
  if (setsockopt(fd, SOL_XDP, option, &entries, sizeof(entries)) != 0) {
    int err = errno;
    return failure->Set(err, syscall, err == EINVAL ? "Ring sizes must be powers of two, set once per socket." : "");
  }
  return true;
}

bool MapRing(int fd, const struct xdp_ring_offset& offsets, uint32_t size, size_t entrySize,
             uint64_t pageOffset, const char* syscall, XdpRing* ring, SyscallFailure* failure) {
  size_t length = offsets.desc + size * entrySize;
  void* address = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                       static_cast<off_t>(pageOffset));
  if (address == MAP_FAILED) return failure->Set(errno, syscall);
  ring->mapping = SharedMapping::Adopt(address, length);
  ring->offsets = offsets;
  ring->size = size;
  return true;
}

bool RegisterUmem(int fd, void* address, uint64_t length, uint32_t frameSize, SyscallFailure* failure) {
  UmemRegistration registration;
  std::memset(&registration, 0, sizeof(registration));
  registration.addr = reinterpret_cast<uintptr_t>(address);
  registration.len = length;
  registration.chunk_size = frameSize;
  registration.headroom = 0;
  if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &registration, sizeof(registration)) == 0) return true;
  int err = errno;
  if (err == EINVAL &&
      setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &registration, kUmemRegistrationWithoutFlags) == 0)
    return true;
  return failure->Set(err, "setsockopt(XDP_UMEM_REG)",
                      err == EINVAL ? "The kernel refused the UMEM: use frameSize 2048 or 4096, and a frameCount "
                                      "whose UMEM fits in memory."
                                    : "");
}

// Binds with the requested copy mode; flag-less binds let the kernel try
// zero-copy and fall back to copy mode by itself.
bool Bind(const XdpOpenOptions& options, XdpPortResources* resources, SyscallFailure* failure) {
  struct sockaddr_xdp address;
  std::memset(&address, 0, sizeof(address));
  address.sxdp_family = AF_XDP;
  address.sxdp_ifindex = static_cast<uint32_t>(resources->interface.ifindex);
  address.sxdp_queue_id = options.queue;
  if (options.zeroCopy == ZeroCopy::kOn) address.sxdp_flags |= XDP_ZEROCOPY;
  if (options.zeroCopy == ZeroCopy::kOff) address.sxdp_flags |= XDP_COPY;
  if (options.needWakeup) address.sxdp_flags |= XDP_USE_NEED_WAKEUP;
  bool multiBuffer = options.multiBuffer != MultiBuffer::kOff;
  if (multiBuffer) address.sxdp_flags |= XDP_USE_SG;
  const char* syscall = options.zeroCopy == ZeroCopy::kOn ? "bind(XDP_ZEROCOPY)" : "bind";
  for (int attempt = 1;; attempt++) {
    if (bind(resources->fd, reinterpret_cast<struct sockaddr*>(&address), sizeof(address)) == 0) break;
    int err = errno;
    if (err == EBUSY && attempt < kBindAttempts) {
      usleep(kBindRetryDelayUs);
      continue;
    }
    // Kernels before 6.6, and zero-copy drivers without multi-buffer, refuse XDP_USE_SG.
    if ((err == EINVAL || err == EOPNOTSUPP) && multiBuffer && options.multiBuffer == MultiBuffer::kAuto) {
      multiBuffer = false;
      address.sxdp_flags &= ~XDP_USE_SG;
      attempt = 0;
      continue;
    }
    if ((err == EINVAL || err == EOPNOTSUPP) && options.multiBuffer == MultiBuffer::kOn)
      return failure->Set(err, "bind(XDP_USE_SG)",
                          "The kernel (6.6 or newer needed) or the driver of " + options.ifname +
                              " refuses multi-buffer AF_XDP: use multiBuffer 'auto' or 'off'.");
    std::string hint;
    if (err == EBUSY)
      hint = "Queue " + std::to_string(options.queue) + " of " + options.ifname +
             " is held by another AF_XDP socket (another process?): close it or use another queue.";
    if (err == EINVAL)
      hint = "Queue " + std::to_string(options.queue) + " may not exist on " + options.ifname +
             " (see `ethtool -l " + options.ifname + "`).";
    if (err == EOPNOTSUPP && options.zeroCopy == ZeroCopy::kOn)
      hint = "The driver of " + options.ifname +
             " has no AF_XDP zero-copy support (veth has none): use zeroCopy 'auto' or 'off'.";
    return failure->Set(err, syscall, hint);
  }
  resources->needWakeup = options.needWakeup;
  resources->multiBuffer = multiBuffer;
  struct xdp_options socketOptions;
  socklen_t optionsLength = sizeof(socketOptions);
  std::memset(&socketOptions, 0, sizeof(socketOptions));
  if (getsockopt(resources->fd, SOL_XDP, XDP_OPTIONS, &socketOptions, &optionsLength) != 0)
    return failure->Set(errno, "getsockopt(XDP_OPTIONS)");
  resources->zeroCopy = (socketOptions.flags & XDP_OPTIONS_ZEROCOPY) != 0;
  return true;
}

// Raises the copy-mode TX budget where the kernel knows the option.
bool SetTxBudget(const XdpOpenOptions& options, XdpPortResources* resources, SyscallFailure* failure) {
  resources->txBudget = 0;
  if (options.txBudget == 0) return true;
  uint32_t budget = options.txBudget;
  if (setsockopt(resources->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget, sizeof(budget)) == 0) {
    resources->txBudget = budget;
    return true;
  }
  int err = errno;
  if (err == ENOPROTOOPT || err == EINVAL) return true;
  return failure->Set(err, "setsockopt(XDP_MAX_TX_SKB_BUDGET)",
                      err == EACCES ? "txBudget must be between 32 and txSize." : "");
}

// Socket, UMEM, rings, bind and XSKMAP slot, in the order the kernel needs.
bool OpenSocket(const XdpOpenOptions& options, XdpPortResources* resources, SyscallFailure* failure) {
  resources->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (resources->fd < 0) return failure->Set(errno, "socket");

  uint64_t umemLength = static_cast<uint64_t>(options.frameSize) * options.frameCount;
  void* umem = mmap(nullptr, umemLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (umem == MAP_FAILED) return failure->Set(errno, "mmap");
  resources->umem = SharedMapping::Adopt(umem, umemLength);
  if (!RegisterUmem(resources->fd, umem, umemLength, options.frameSize, failure)) return false;

  int fd = resources->fd;
  if (!SetRingSize(fd, XDP_UMEM_FILL_RING, options.fillSize, "setsockopt(XDP_UMEM_FILL_RING)", failure) ||
      !SetRingSize(fd, XDP_UMEM_COMPLETION_RING, options.completionSize,
                   "setsockopt(XDP_UMEM_COMPLETION_RING)", failure) ||
      !SetRingSize(fd, XDP_RX_RING, options.rxSize, "setsockopt(XDP_RX_RING)", failure) ||
      !SetRingSize(fd, XDP_TX_RING, options.txSize, "setsockopt(XDP_TX_RING)", failure))
    return false;

  struct xdp_mmap_offsets offsets;
  socklen_t offsetsLength = sizeof(offsets);
  std::memset(&offsets, 0, sizeof(offsets));
  if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &offsets, &offsetsLength) != 0)
    return failure->Set(errno, "getsockopt(XDP_MMAP_OFFSETS)");
  if (offsetsLength != sizeof(offsets))
    return failure->Set(EOPNOTSUPP, "getsockopt(XDP_MMAP_OFFSETS)",
                        "The kernel is too old: nicring needs Linux 5.9 or newer.");
  const size_t addressSize = sizeof(uint64_t);
  const size_t descriptorSize = sizeof(struct xdp_desc);
  if (!MapRing(fd, offsets.rx, options.rxSize, descriptorSize, XDP_PGOFF_RX_RING, "mmap(XDP_PGOFF_RX_RING)",
               &resources->rx, failure) ||
      !MapRing(fd, offsets.tx, options.txSize, descriptorSize, XDP_PGOFF_TX_RING, "mmap(XDP_PGOFF_TX_RING)",
               &resources->tx, failure) ||
      !MapRing(fd, offsets.fr, options.fillSize, addressSize, XDP_UMEM_PGOFF_FILL_RING,
               "mmap(XDP_UMEM_PGOFF_FILL_RING)", &resources->fill, failure) ||
      !MapRing(fd, offsets.cr, options.completionSize, addressSize, XDP_UMEM_PGOFF_COMPLETION_RING,
               "mmap(XDP_UMEM_PGOFF_COMPLETION_RING)", &resources->completion, failure))
    return false;

  if (!SetTxBudget(options, resources, failure)) return false;
  if (!Bind(options, resources, failure)) return false;
  return PublishSocket(resources->interface, options.queue, fd, failure);
}

bool ReadOpenOptions(const Napi::CallbackInfo& info, XdpOpenOptions* options) {
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(info.Env(), "xdpOpen: options must be an object").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Object object = info[0].As<Napi::Object>();
  std::string mode;
  std::string zeroCopy;
  std::string multiBuffer = "auto";
  if (!ReadString(object, "ifname", &options->ifname) || !ReadU32(object, "queue", &options->queue) ||
      !ReadString(object, "mode", &mode) || !ReadU32(object, "frameSize", &options->frameSize) ||
      !ReadU32(object, "frameCount", &options->frameCount) || !ReadU32(object, "rxSize", &options->rxSize) ||
      !ReadU32(object, "txSize", &options->txSize) || !ReadU32(object, "fillSize", &options->fillSize) ||
      !ReadU32(object, "completionSize", &options->completionSize) ||
      !ReadString(object, "zeroCopy", &zeroCopy) || !ReadU32(object, "txBudget", &options->txBudget))
    return false;
  options->mode = mode == "generic" ? XdpAttachMode::kGeneric : XdpAttachMode::kNative;
  options->zeroCopy = zeroCopy == "on" ? ZeroCopy::kOn : zeroCopy == "off" ? ZeroCopy::kOff : ZeroCopy::kAuto;
  Napi::Value multiBufferValue = object.Get("multiBuffer");
  if (multiBufferValue.IsString()) multiBuffer = multiBufferValue.As<Napi::String>().Utf8Value();
  options->multiBuffer = multiBuffer == "on" ? MultiBuffer::kOn : multiBuffer == "off" ? MultiBuffer::kOff : MultiBuffer::kAuto;
  options->needWakeup = object.Get("needWakeup").ToBoolean().Value();
  return true;
}

// if_nametoindex, or 0 with a JS error thrown.
Napi::Value XdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* environment = static_cast<XdpEnvironment*>(info.Data());
  XdpOpenOptions options;
  if (!ReadOpenOptions(info, &options)) return env.Undefined();
  int ifindex = InterfaceIndex(env, options.ifname);
  if (ifindex == 0) return env.Undefined();

  PendingPort pending{environment, XdpPortResources{}};
  XdpPortResources& resources = pending.resources;
  resources.ifname = options.ifname;
  resources.interface = CurrentInterfaceKey(ifindex);
  resources.queue = options.queue;
  resources.mode = options.mode;
  SyscallFailure failure;
  if (!ClaimQueue(options.ifname, resources.interface, options.queue, options.mode, &failure)) {
    ThrowErrno(env, failure.err, failure.syscall, options.ifname, failure.hint);
    return env.Undefined();
  }
  resources.queueClaimed = true;
  if (!OpenSocket(options, &resources, &failure)) {
    ReleaseResources(&resources);
    ThrowErrno(env, failure.err, failure.syscall, options.ifname, failure.hint);
    return env.Undefined();
  }
  Napi::Object port = environment->constructor.New({Napi::External<PendingPort>::New(env, &pending)});
  if (!pending.adopted) ReleaseResources(&resources);
  if (env.IsExceptionPending()) return env.Undefined();
  return port;
}

double ElapsedNs(const struct timespec& start, const struct timespec& end) {
  return static_cast<double>(end.tv_sec - start.tv_sec) * 1e9 + static_cast<double>(end.tv_nsec - start.tv_nsec);
}

Napi::Value XdpTestRunLive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "xdpTestRunLive: options must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object options = info[0].As<Napi::Object>();
  std::string ifname;
  uint32_t count = 0;
  if (!ReadString(options, "ifname", &ifname) || !ReadU32(options, "count", &count)) return env.Undefined();
  Napi::Value frameValue = options.Get("frame");
  if (!frameValue.IsTypedArray() || frameValue.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "xdpTestRunLive: options.frame must be a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array frame = frameValue.As<Napi::Uint8Array>();
  if (count < 1 || count > kMaxLiveFrameRepeat) {
    Napi::RangeError::New(env, "xdpTestRunLive: count must be between 1 and 100000000")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t batchSize = 0;
  Napi::Value batchValue = options.Get("batchSize");
  if (batchValue.IsNumber()) batchSize = batchValue.As<Napi::Number>().Uint32Value();
  int ifindex = InterfaceIndex(env, ifname);
  if (ifindex == 0) return env.Undefined();

  std::string verifierLog;
  int progFd = LoadTransmitProgram(&verifierLog);
  if (progFd < 0) {
    ThrowErrno(env, progFd, "bpf(BPF_PROG_LOAD)", ifname,
               verifierLog.empty() ? "" : "The verifier said:\n" + verifierLog);
    return env.Undefined();
  }
  struct timespec start;
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  int rc = TestRunLiveFrames(progFd, ifindex, frame.Data(), static_cast<uint32_t>(frame.ByteLength()), count,
                             batchSize);
  clock_gettime(CLOCK_MONOTONIC, &end);
  close(progFd);
  if (rc < 0) {
    std::string hint;
    if (rc == -EINVAL)
      hint = "Live frames need Linux 5.18 or newer, a frame of 14 bytes up to about 3.5 KiB, and a batchSize "
             "of at most 256.";
    if (rc == -E2BIG) hint = "batchSize must be at most 256.";
    ThrowErrno(env, rc, "bpf(BPF_PROG_TEST_RUN)", ifname, hint);
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("count", Napi::Number::New(env, count));
  result.Set("durationNs", Napi::Number::New(env, ElapsedNs(start, end)));
  return result;
}

void CleanupEnvironment(void* data) {
  auto* environment = static_cast<XdpEnvironment*>(data);
  // Closing a port removes it from the set.
  std::vector<XdpPort*> ports(environment->openPorts.begin(), environment->openPorts.end());
  for (XdpPort* port : ports) port->CloseForTeardown();
  environment->constructor.Reset();
  delete environment;
}

Napi::Object RingObject(Napi::Env env, napi_value buffer, const XdpRing& ring) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("buffer", buffer);
  object.Set("producer", Napi::Number::New(env, ring.offsets.producer));
  object.Set("consumer", Napi::Number::New(env, ring.offsets.consumer));
  object.Set("flags", Napi::Number::New(env, ring.offsets.flags));
  object.Set("desc", Napi::Number::New(env, ring.offsets.desc));
  object.Set("size", Napi::Number::New(env, ring.size));
  object.Freeze();
  return object;
}

}  // namespace

Napi::Function XdpPort::Class(Napi::Env env) {
  return DefineClass(env, "XdpPort",
                     {
                         InstanceAccessor<&XdpPort::Fd>("fd"),
                         InstanceMethod<&XdpPort::Kick>("kick"),
                         InstanceMethod<&XdpPort::Wakeup>("wakeup"),
                         InstanceMethod<&XdpPort::Statistics>("statistics"),
                         InstanceMethod<&XdpPort::Watch>("watch"),
                         InstanceMethod<&XdpPort::Unwatch>("unwatch"),
                         InstanceMethod<&XdpPort::Defer>("defer"),
                         InstanceMethod<&XdpPort::Later>("later"),
                         InstanceMethod<&XdpPort::Close>("close"),
                     });
}

XdpPort::XdpPort(const Napi::CallbackInfo& info) : Napi::ObjectWrap<XdpPort>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    Napi::TypeError::New(env, "XdpPort objects are made by xdpOpen()").ThrowAsJavaScriptException();
    return;
  }
  PendingPort* pending = info[0].As<Napi::External<PendingPort>>().Data();
  resources_ = pending->resources;
  pending->adopted = true;
  environment_ = pending->environment;
  environment_->openPorts.insert(this);
  closed_ = false;
  if (!ExposeMappings(env, info.This().As<Napi::Object>())) Shutdown(true);
}

XdpPort::~XdpPort() { Shutdown(false); }

bool XdpPort::ExposeMappings(Napi::Env env, Napi::Object self) {
  napi_value umem;
  napi_value rx;
  napi_value tx;
  napi_value fill;
  napi_value completion;
  if (resources_.umem->CreateArrayBuffer(env, &umem) != napi_ok ||
      resources_.rx.mapping->CreateArrayBuffer(env, &rx) != napi_ok ||
      resources_.tx.mapping->CreateArrayBuffer(env, &tx) != napi_ok ||
      resources_.fill.mapping->CreateArrayBuffer(env, &fill) != napi_ok ||
      resources_.completion.mapping->CreateArrayBuffer(env, &completion) != napi_ok) {
    if (!env.IsExceptionPending())
      Napi::Error::New(env, "xdpOpen: cannot create an external ArrayBuffer").ThrowAsJavaScriptException();
    return false;
  }
  const auto attributes = napi_enumerable;
  const char* mode = resources_.mode == XdpAttachMode::kNative ? "native" : "generic";
  self.DefineProperties({
      Napi::PropertyDescriptor::Value("ifindex", Napi::Number::New(env, resources_.interface.ifindex), attributes),
      Napi::PropertyDescriptor::Value("queue", Napi::Number::New(env, resources_.queue), attributes),
      Napi::PropertyDescriptor::Value("mode", Napi::String::New(env, mode), attributes),
      Napi::PropertyDescriptor::Value("zeroCopy", Napi::Boolean::New(env, resources_.zeroCopy), attributes),
      Napi::PropertyDescriptor::Value("needWakeup", Napi::Boolean::New(env, resources_.needWakeup), attributes),
      Napi::PropertyDescriptor::Value("multiBuffer", Napi::Boolean::New(env, resources_.multiBuffer), attributes),
      Napi::PropertyDescriptor::Value("txBudget", Napi::Number::New(env, resources_.txBudget), attributes),
      Napi::PropertyDescriptor::Value("umem", umem, attributes),
      Napi::PropertyDescriptor::Value("rx", RingObject(env, rx, resources_.rx), attributes),
      Napi::PropertyDescriptor::Value("tx", RingObject(env, tx, resources_.tx), attributes),
      Napi::PropertyDescriptor::Value("fill", RingObject(env, fill, resources_.fill), attributes),
      Napi::PropertyDescriptor::Value("completion", RingObject(env, completion, resources_.completion), attributes),
  });
  return !env.IsExceptionPending();
}

void XdpPort::Shutdown(bool revokeBuffers) {
  if (closed_) return;
  closed_ = true;
  watch_.Close();
  deferral_.Close();
  later_.Close();
  if (revokeBuffers) {
    for (SharedMapping* mapping : {resources_.umem, resources_.rx.mapping, resources_.tx.mapping,
                                   resources_.fill.mapping, resources_.completion.mapping}) {
      if (mapping != nullptr) mapping->Revoke();
    }
  }
  ReleaseResources(&resources_);
  environment_->openPorts.erase(this);
}

bool XdpPort::ThrowIfClosed(Napi::Env env, const char* syscall) {
  if (!closed_) return false;
  ThrowErrno(env, EBADF, syscall, resources_.ifname, "The port is closed.");
  return true;
}

Napi::Value XdpPort::Fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), closed_ ? -1 : resources_.fd);
}

Napi::Value XdpPort::Kick(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env, "sendto")) return env.Undefined();
  if (sendto(resources_.fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) return Napi::Number::New(env, 0);
  int err = errno;
  if (err == EAGAIN || err == EBUSY || err == ENOBUFS || err == ENETDOWN) return Napi::Number::New(env, -err);
  ThrowErrno(env, err, "sendto", resources_.ifname);
  return env.Undefined();
}

Napi::Value XdpPort::Wakeup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env, "recvfrom")) return env.Undefined();
  if (recvfrom(resources_.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr) >= 0) return Napi::Number::New(env, 0);
  int err = errno;
  if (err == EAGAIN || err == EBUSY || err == ENOBUFS || err == ENETDOWN) return Napi::Number::New(env, -err);
  ThrowErrno(env, err, "recvfrom", resources_.ifname);
  return env.Undefined();
}

Napi::Value XdpPort::Statistics(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env, "getsockopt(XDP_STATISTICS)")) return env.Undefined();
  struct xdp_statistics statistics;
  socklen_t length = sizeof(statistics);
  std::memset(&statistics, 0, sizeof(statistics));
  if (getsockopt(resources_.fd, SOL_XDP, XDP_STATISTICS, &statistics, &length) != 0) {
    ThrowErrno(env, errno, "getsockopt(XDP_STATISTICS)", resources_.ifname);
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("rxDropped", Napi::Number::New(env, static_cast<double>(statistics.rx_dropped)));
  result.Set("rxInvalidDescs", Napi::Number::New(env, static_cast<double>(statistics.rx_invalid_descs)));
  result.Set("txInvalidDescs", Napi::Number::New(env, static_cast<double>(statistics.tx_invalid_descs)));
  result.Set("rxRingFull", Napi::Number::New(env, static_cast<double>(statistics.rx_ring_full)));
  result.Set("rxFillRingEmptyDescs",
             Napi::Number::New(env, static_cast<double>(statistics.rx_fill_ring_empty_descs)));
  result.Set("txRingEmptyDescs", Napi::Number::New(env, static_cast<double>(statistics.tx_ring_empty_descs)));
  return result;
}

Napi::Value XdpPort::Watch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env, "uv_poll_start")) return env.Undefined();
  Napi::Function callback;
  if (!ReadCallback(info, "watch", &callback)) return env.Undefined();
  int rc = watch_.Start(env, resources_.fd, callback);
  if (rc != 0) ThrowErrno(env, rc, "uv_poll_start", resources_.ifname);
  return env.Undefined();
}

Napi::Value XdpPort::Unwatch(const Napi::CallbackInfo& info) {
  watch_.Stop();
  return info.Env().Undefined();
}

Napi::Value XdpPort::Defer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env, "uv_timer_start")) return env.Undefined();
  Napi::Function callback;
  if (!ReadCallback(info, "defer", &callback)) return env.Undefined();
  int rc = deferral_.Schedule(env, callback, 0);
  if (rc != 0) ThrowErrno(env, rc, "uv_timer_start", resources_.ifname);
  return env.Undefined();
}

Napi::Value XdpPort::Later(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env, "uv_timer_start")) return env.Undefined();
  Napi::Function callback;
  uint32_t delayMs = 0;
  if (!ReadCallback(info, "later", &callback) || !ReadDelay(info, "later", &delayMs)) return env.Undefined();
  int rc = later_.Schedule(env, callback, delayMs);
  if (rc != 0) ThrowErrno(env, rc, "uv_timer_start", resources_.ifname);
  return env.Undefined();
}

Napi::Value XdpPort::Close(const Napi::CallbackInfo& info) {
  Shutdown(true);
  return info.Env().Undefined();
}

void InitXdp(Napi::Env env, Napi::Object exports) {
  auto* environment = new XdpEnvironment;
  environment->constructor = Napi::Persistent(XdpPort::Class(env));
  napi_add_env_cleanup_hook(env, CleanupEnvironment, environment);
  exports.Set("xdpOpen", Napi::Function::New(env, XdpOpen, "xdpOpen", environment));
  exports.Set("xdpTestRunLive", Napi::Function::New(env, XdpTestRunLive, "xdpTestRunLive"));
}

}  // namespace nicring

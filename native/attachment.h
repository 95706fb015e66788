// The XDP program and XSKMAP of an interface belong to the interface, not to
// a port: a process-global registry (shared by worker threads) attaches them
// for the first port on an interface, lends them to ports on other queues,
// and detaches them when the last port closes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "bpf.h"

namespace nicring {

// A failed system call, ready to become a JS error (see errors.h).
struct SyscallFailure {
  int err = 0;
  const char* syscall = "";
  // Empty: errors.cc picks the hint from errno and syscall.
  std::string hint;

  // Records the failure (errno given either sign); returns false for `return Set(...)`.
  bool Set(int errorNumber, const char* call, std::string advice = "") {
    err = errorNumber < 0 ? -errorNumber : errorNumber;
    syscall = call;
    hint = std::move(advice);
    return false;
  }
};

// An interface, named the way the kernel knows it: ifindex inside a network
// namespace (ifindex values repeat across namespaces).
struct InterfaceKey {
  uint64_t netns = 0;
  int ifindex = 0;
  bool operator<(const InterfaceKey& other) const {
    return netns != other.netns ? netns < other.netns : ifindex < other.ifindex;
  }
};

// What to do when BPF_LINK_CREATE of an XDP program on `ifname` failed with `err` (negative).
std::string AttachHint(int err, const std::string& ifname, XdpAttachMode mode);

// The calling thread's interface `ifindex`.
InterfaceKey CurrentInterfaceKey(int ifindex);

// Reserves `queue` of the interface for one port. The first port on an
// interface creates the XSKMAP, loads the redirect program and attaches it in
// `mode`; later ports must ask for the same mode. Returns false and fills
// `failure` when the queue is taken, the mode differs, or a bpf() call fails.
bool ClaimQueue(const std::string& ifname, const InterfaceKey& key, uint32_t queue, XdpAttachMode mode,
                SyscallFailure* failure);

// Points the queue's XSKMAP slot at a bound AF_XDP socket, so that the
// program starts redirecting the queue's frames to it.
bool PublishSocket(const InterfaceKey& key, uint32_t queue, int socketFd, SyscallFailure* failure);

// Clears the queue's slot and frees the queue; the interface's last queue
// detaches the program and frees the map.
void ReleaseQueue(const InterfaceKey& key, uint32_t queue);

}  // namespace nicring

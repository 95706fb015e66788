#include "attachment.h"

#include <dirent.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace nicring {

namespace {

// Room for queues added later (ethtool -L) without resizing the map.
constexpr uint32_t kMinimumMapEntries = 64;
constexpr size_t kVerifierLogHintLength = 1500;

struct InterfaceProgram {
  int mapFd = -1;
  int progFd = -1;
  int linkFd = -1;
  XdpAttachMode mode = XdpAttachMode::kNative;
  std::set<uint32_t> queues;
};

std::mutex registryMutex;
std::map<InterfaceKey, InterfaceProgram> registry;

const char* ModeName(XdpAttachMode mode) { return mode == XdpAttachMode::kNative ? "native" : "generic"; }

// Queues the driver can expose (ETHTOOL_GCHANNELS maxima), or 0.
uint32_t EthtoolQueueCount(const std::string& ifname) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct ethtool_channels channels;
  std::memset(&channels, 0, sizeof(channels));
  channels.cmd = ETHTOOL_GCHANNELS;
  struct ifreq request;
  std::memset(&request, 0, sizeof(request));
  std::strncpy(request.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&channels);
  uint32_t count = 0;
  if (ioctl(fd, SIOCETHTOOL, &request) == 0) count = channels.max_rx + channels.max_combined;
  close(fd);
  return count;
}

// rx-N entries under /sys/class/net/IF/queues, or 0 (sysfs may show another
// namespace, hence only a fallback).
uint32_t SysfsQueueCount(const std::string& ifname) {
  std::string path = "/sys/class/net/" + ifname + "/queues";
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return 0;
  uint32_t count = 0;
  while (struct dirent* entry = readdir(dir)) {
    if (std::strncmp(entry->d_name, "rx-", 3) == 0) count++;
  }
  closedir(dir);
  return count;
}

uint32_t MapEntriesFor(const std::string& ifname) {
  return std::max({kMinimumMapEntries, EthtoolQueueCount(ifname), SysfsQueueCount(ifname)});
}

void CloseProgram(const InterfaceProgram& program) {
  if (program.linkFd >= 0) close(program.linkFd);
  if (program.progFd >= 0) close(program.progFd);
  if (program.mapFd >= 0) close(program.mapFd);
}

// Creates the map and program and attaches them; fills `program` or `failure`.
bool AttachProgram(const std::string& ifname, int ifindex, XdpAttachMode mode,
                   InterfaceProgram* program, SyscallFailure* failure) {
  program->mode = mode;
  program->mapFd = CreateXskMap(MapEntriesFor(ifname));
  if (program->mapFd < 0) return failure->Set(program->mapFd, "bpf(BPF_MAP_CREATE)");
  std::string verifierLog;
  program->progFd = LoadRedirectProgram(program->mapFd, &verifierLog);
  if (program->progFd < 0) {
    std::string hint;
    if (!verifierLog.empty()) {
      if (verifierLog.size() > kVerifierLogHintLength)
        verifierLog = verifierLog.substr(verifierLog.size() - kVerifierLogHintLength);
      hint = "The verifier said:\n" + verifierLog;
    }
    return failure->Set(program->progFd, "bpf(BPF_PROG_LOAD)", hint);
  }
  program->linkFd = AttachXdpLink(program->progFd, ifindex, mode);
  if (program->linkFd < 0) {
    return failure->Set(program->linkFd, "bpf(BPF_LINK_CREATE)", AttachHint(program->linkFd, ifname, mode));
  }
  return true;
}

}  // namespace

std::string AttachHint(int err, const std::string& ifname, XdpAttachMode mode) {
  if (err == -EBUSY || err == -EEXIST)
    return "Another XDP program is already attached to " + ifname +
           " (by another process, or with `ip link ... xdp`): stop that process or detach it (`ip link set dev " +
           ifname + " xdp off`) first.";
  if (mode == XdpAttachMode::kNative && (err == -EOPNOTSUPP || err == -EINVAL || err == -ERANGE))
    return "The driver of " + ifname +
           " lacks native XDP (or refuses it in its current setup, e.g. MTU or LRO): use xdpMode 'generic'.";
  return "";
}

InterfaceKey CurrentInterfaceKey(int ifindex) {
  InterfaceKey key;
  key.ifindex = ifindex;
  struct stat status;
  if (stat("/proc/thread-self/ns/net", &status) == 0) key.netns = status.st_ino;
  return key;
}

bool ClaimQueue(const std::string& ifname, const InterfaceKey& key, uint32_t queue, XdpAttachMode mode,
                SyscallFailure* failure) {
  std::lock_guard<std::mutex> lock(registryMutex);
  auto found = registry.find(key);
  if (found != registry.end()) {
    InterfaceProgram& program = found->second;
    if (program.queues.count(queue) != 0) {
      return failure->Set(EBUSY, "bind",
                          "Queue " + std::to_string(queue) + " of " + ifname +
                              " already has an AF_XDP port in this process: close it first or use another queue.");
    }
    if (program.mode != mode) {
      return failure->Set(EBUSY, "bpf(BPF_LINK_CREATE)",
                          std::string("nicring's XDP program is attached to ") + ifname + " in " +
                              ModeName(program.mode) + " mode by another port of this process: open with xdpMode '" +
                              ModeName(program.mode) + "', or close the other ports first.");
    }
    program.queues.insert(queue);
    return true;
  }
  InterfaceProgram program;
  if (!AttachProgram(ifname, key.ifindex, mode, &program, failure)) {
    CloseProgram(program);
    return false;
  }
  program.queues.insert(queue);
  registry.emplace(key, std::move(program));
  return true;
}

bool PublishSocket(const InterfaceKey& key, uint32_t queue, int socketFd, SyscallFailure* failure) {
  std::lock_guard<std::mutex> lock(registryMutex);
  auto found = registry.find(key);
  if (found == registry.end()) return failure->Set(ENOENT, "bpf(BPF_MAP_UPDATE_ELEM)");
  int rc = UpdateMapEntry(found->second.mapFd, queue, static_cast<uint32_t>(socketFd));
  if (rc < 0) return failure->Set(rc, "bpf(BPF_MAP_UPDATE_ELEM)");
  return true;
}

void ReleaseQueue(const InterfaceKey& key, uint32_t queue) {
  std::lock_guard<std::mutex> lock(registryMutex);
  auto found = registry.find(key);
  if (found == registry.end()) return;
  InterfaceProgram& program = found->second;
  if (program.queues.erase(queue) == 0) return;
  // ENOENT when the socket never got published: nothing to clear.
  DeleteMapEntry(program.mapFd, queue);
  if (!program.queues.empty()) return;
  CloseProgram(program);
  registry.erase(found);
}

}  // namespace nicring

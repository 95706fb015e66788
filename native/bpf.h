// Raw bpf(2) calls for the AF_XDP backend: an XSKMAP, a redirect program
// assembled by hand, a reply counter for the load generator, a bpf_link attach, map updates, and a live-frames test
// run. No libbpf: only the kernel UAPI headers. Every function returns a file
// descriptor or 0 on success, -errno on failure.
#pragma once

#include <cstdint>
#include <string>

namespace nicring {

// XDP attach modes, as bpf_link flags.
enum class XdpAttachMode { kNative, kGeneric };

// BPF_MAP_CREATE of an XSKMAP (u32 queue -> socket fd) with `maxEntries` slots.
int CreateXskMap(uint32_t maxEntries);

// BPF_PROG_LOAD of `return bpf_redirect_map(&xsks, ctx->rx_queue_index,
// XDP_PASS)`. On failure `verifierLog` holds the verifier's explanation.
int LoadRedirectProgram(int mapFd, std::string* verifierLog);

// BPF_PROG_LOAD of `return XDP_TX`, for live-frames test runs.
int LoadTransmitProgram(std::string* verifierLog);

// BPF_MAP_CREATE of a one-slot array holding a u64 counter.
int CreateCounterMap();

// BPF_PROG_LOAD of a program that counts and drops the IPv4 UDP frames (no
// IP options) from `address`:`port` in slot 0 of `mapFd`, and passes the
// rest to the kernel. Address and port are in network byte order.
int LoadCounterProgram(int mapFd, uint32_t address, uint16_t port, std::string* verifierLog);

// BPF_MAP_LOOKUP_ELEM of the u64 in slot 0 of a counter map.
int ReadCounter(int mapFd, uint64_t* value);

// BPF_LINK_CREATE (BPF_XDP) of `progFd` on `ifindex`. The program detaches
// when the last descriptor of the returned link closes (also on a crash).
int AttachXdpLink(int progFd, int ifindex, XdpAttachMode mode);

// BPF_MAP_UPDATE_ELEM / BPF_MAP_DELETE_ELEM with u32 key and value.
int UpdateMapEntry(int mapFd, uint32_t key, uint32_t value);
int DeleteMapEntry(int mapFd, uint32_t key);

// BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES: runs `progFd` `repeat`
// times on a copy of `frame`, as if received on `ifindex` queue 0, so that
// XDP_TX sends each copy out of that interface.
int TestRunLiveFrames(int progFd, int ifindex, const uint8_t* frame, uint32_t frameLength,
                      uint32_t repeat, uint32_t batchSize);

}  // namespace nicring

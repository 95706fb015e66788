// The netmap user-space ABI (API version 14, Linux x86-64), from netmap's
// sys/net/netmap.h. Every size and offset below is checked at compile time
// against literal numbers, and the whole layout against the real module
// (test/netmap-vm/): a wrong field fails the build or that suite.
#pragma once

#include <sys/ioctl.h>
#include <sys/time.h>

#include <cstddef>
#include <cstdint>

namespace nicring {
namespace netmap {

constexpr uint16_t kApiVersion = 14;
constexpr uint16_t kReqRegister = 1;  // NETMAP_REQ_REGISTER
constexpr size_t kReqNameSize = 64;   // NETMAP_REQ_IFNAMSIZ
constexpr size_t kIfNameSize = 16;    // IFNAMSIZ in struct netmap_if

// nr_mode values.
constexpr uint32_t kRegAllNic = 1;
constexpr uint32_t kRegSw = 2;
constexpr uint32_t kRegNicSw = 3;
constexpr uint32_t kRegOneNic = 4;
constexpr uint32_t kRegNull = 7;
constexpr uint32_t kRegOneSw = 8;

// struct nmreq_header: the argument of NIOCCTRL.
struct ReqHeader {
  uint16_t nr_version;
  uint16_t nr_reqtype;
  uint32_t nr_reserved;
  char nr_name[kReqNameSize];
  uint64_t nr_options;  // user pointer to the option list
  uint64_t nr_body;     // user pointer to struct nmreq_register
};

// struct nmreq_register: the body of NETMAP_REQ_REGISTER (in/out).
struct ReqRegister {
  uint64_t nr_offset;
  uint64_t nr_memsize;
  uint32_t nr_tx_slots;
  uint32_t nr_rx_slots;
  uint16_t nr_tx_rings;
  uint16_t nr_rx_rings;
  uint16_t nr_host_tx_rings;
  uint16_t nr_host_rx_rings;
  uint16_t nr_mem_id;
  uint16_t nr_ringid;
  uint32_t nr_mode;
  uint32_t nr_extra_bufs;
  uint64_t nr_flags;
};

// struct netmap_if without its trailing ring_ofs[] (int64 offsets from the
// netmap_if, which start right after this header).
struct InterfaceHeader {
  char ni_name[kIfNameSize];
  uint32_t ni_version;
  uint32_t ni_flags;
  uint32_t ni_tx_rings;
  uint32_t ni_rx_rings;
  uint32_t ni_bufs_head;
  uint32_t ni_host_tx_rings;
  uint32_t ni_host_rx_rings;
  uint32_t ni_spare1[3];
};

// struct netmap_slot.
struct Slot {
  uint32_t buf_idx;
  uint16_t len;
  uint16_t flags;
  uint64_t ptr;
};

// struct netmap_ring without its trailing slot[]: the 128-byte aligned
// opaque area is what puts the slots at offset 256.
struct RingHeader {
  int64_t buf_ofs;
  uint32_t num_slots;
  uint32_t nr_buf_size;
  uint16_t ringid;
  uint16_t dir;  // the kernel stores kring->tx: 1 on TX rings, 0 on RX rings
  uint32_t head;
  uint32_t cur;
  uint32_t tail;
  uint32_t flags;
  struct timeval ts;
  alignas(128) uint8_t sem[128];
};

constexpr unsigned long kIocCtrl = _IOWR('i', 151, ReqHeader);  // NOLINT(runtime/int)
constexpr unsigned long kIocTxSync = _IO('i', 148);              // NOLINT(runtime/int)
constexpr unsigned long kIocRxSync = _IO('i', 149);              // NOLINT(runtime/int)

// Where ring_ofs[] and slot[] begin.
constexpr size_t kIfRingOffsets = sizeof(InterfaceHeader);
constexpr size_t kRingSlots = sizeof(RingHeader);

static_assert(sizeof(ReqHeader) == 88, "nmreq_header is 88 bytes");
static_assert(offsetof(ReqHeader, nr_version) == 0, "nmreq_header.nr_version");
static_assert(offsetof(ReqHeader, nr_reqtype) == 2, "nmreq_header.nr_reqtype");
static_assert(offsetof(ReqHeader, nr_reserved) == 4, "nmreq_header.nr_reserved");
static_assert(offsetof(ReqHeader, nr_name) == 8, "nmreq_header.nr_name");
static_assert(offsetof(ReqHeader, nr_options) == 72, "nmreq_header.nr_options");
static_assert(offsetof(ReqHeader, nr_body) == 80, "nmreq_header.nr_body");

static_assert(sizeof(ReqRegister) == 56, "nmreq_register is 56 bytes");
static_assert(offsetof(ReqRegister, nr_offset) == 0, "nmreq_register.nr_offset");
static_assert(offsetof(ReqRegister, nr_memsize) == 8, "nmreq_register.nr_memsize");
static_assert(offsetof(ReqRegister, nr_tx_slots) == 16, "nmreq_register.nr_tx_slots");
static_assert(offsetof(ReqRegister, nr_rx_slots) == 20, "nmreq_register.nr_rx_slots");
static_assert(offsetof(ReqRegister, nr_tx_rings) == 24, "nmreq_register.nr_tx_rings");
static_assert(offsetof(ReqRegister, nr_rx_rings) == 26, "nmreq_register.nr_rx_rings");
static_assert(offsetof(ReqRegister, nr_host_tx_rings) == 28, "nmreq_register.nr_host_tx_rings");
static_assert(offsetof(ReqRegister, nr_host_rx_rings) == 30, "nmreq_register.nr_host_rx_rings");
static_assert(offsetof(ReqRegister, nr_mem_id) == 32, "nmreq_register.nr_mem_id");
static_assert(offsetof(ReqRegister, nr_ringid) == 34, "nmreq_register.nr_ringid");
static_assert(offsetof(ReqRegister, nr_mode) == 36, "nmreq_register.nr_mode");
static_assert(offsetof(ReqRegister, nr_extra_bufs) == 40, "nmreq_register.nr_extra_bufs");
static_assert(offsetof(ReqRegister, nr_flags) == 48, "nmreq_register.nr_flags");

static_assert(offsetof(InterfaceHeader, ni_name) == 0, "netmap_if.ni_name");
static_assert(offsetof(InterfaceHeader, ni_version) == 16, "netmap_if.ni_version");
static_assert(offsetof(InterfaceHeader, ni_flags) == 20, "netmap_if.ni_flags");
static_assert(offsetof(InterfaceHeader, ni_tx_rings) == 24, "netmap_if.ni_tx_rings");
static_assert(offsetof(InterfaceHeader, ni_rx_rings) == 28, "netmap_if.ni_rx_rings");
static_assert(offsetof(InterfaceHeader, ni_bufs_head) == 32, "netmap_if.ni_bufs_head");
static_assert(offsetof(InterfaceHeader, ni_host_tx_rings) == 36, "netmap_if.ni_host_tx_rings");
static_assert(offsetof(InterfaceHeader, ni_host_rx_rings) == 40, "netmap_if.ni_host_rx_rings");
static_assert(kIfRingOffsets == 56, "netmap_if.ring_ofs starts at 56");

static_assert(offsetof(RingHeader, buf_ofs) == 0, "netmap_ring.buf_ofs");
static_assert(offsetof(RingHeader, num_slots) == 8, "netmap_ring.num_slots");
static_assert(offsetof(RingHeader, nr_buf_size) == 12, "netmap_ring.nr_buf_size");
static_assert(offsetof(RingHeader, ringid) == 16, "netmap_ring.ringid");
static_assert(offsetof(RingHeader, dir) == 18, "netmap_ring.dir");
static_assert(offsetof(RingHeader, head) == 20, "netmap_ring.head");
static_assert(offsetof(RingHeader, cur) == 24, "netmap_ring.cur");
static_assert(offsetof(RingHeader, tail) == 28, "netmap_ring.tail");
static_assert(offsetof(RingHeader, flags) == 32, "netmap_ring.flags");
static_assert(offsetof(RingHeader, ts) == 40, "netmap_ring.ts");
static_assert(kRingSlots == 256, "netmap_ring.slot starts at 256");

static_assert(sizeof(Slot) == 16, "netmap_slot is 16 bytes");
static_assert(offsetof(Slot, buf_idx) == 0, "netmap_slot.buf_idx");
static_assert(offsetof(Slot, len) == 4, "netmap_slot.len");
static_assert(offsetof(Slot, flags) == 6, "netmap_slot.flags");
static_assert(offsetof(Slot, ptr) == 8, "netmap_slot.ptr");

static_assert(kIocCtrl == 0xC0586997UL, "NIOCCTRL");
static_assert(kIocTxSync == 0x6994UL, "NIOCTXSYNC");
static_assert(kIocRxSync == 0x6995UL, "NIOCRXSYNC");

}  // namespace netmap
}  // namespace nicring

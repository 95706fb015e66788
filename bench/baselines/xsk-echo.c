// UDP echo on AF_XDP in plain C, with raw system calls (no libbpf, no
// libxdp): the C yardstick for nicring's own AF_XDP responder in `nicring
// bench`. It does the work a correct responder does and nothing more: it
// answers ARP for its address, and IPv4/UDP datagrams sent to its MAC,
// address and port, each reply written over the
// request in the received frame (MACs, addresses and ports swapped, TTL 64),
// after checking the IPv4 header checksum and the UDP checksum; a partial UDP
// checksum (the pseudo-header sum a same-host sender leaves to offload) is
// completed, a bad one is dropped. An echo of an unchanged payload keeps a
// full checksum: swapping addresses and ports leaves every sum the same.
//
// The loop: take up to --batch frames from RX, turn each around onto TX
// with the same UMEM address, publish both rings once, kick TX with one
// sendto when the kernel needs it, and give completed frames back to the
// fill ring. It spins by default; --wait blocks in poll() when the rings are
// idle. Prints "ready" once the socket is in the XSKMAP, and one JSON line
// with its totals on SIGINT/SIGTERM or after --duration seconds.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sum_words reads little-endian words"
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9
#endif

#define ETH_LEN 14
#define IP_LEN 20
#define UDP_LEN 8
#define MAX_BATCH 1024

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void fail(const char* what) {
  fprintf(stderr, "xsk-echo: %s: %s\n", what, strerror(errno));
  exit(1);
}

// ---- options ----

struct options {
  const char* ifname;
  int generic;
  uint32_t queue;
  uint32_t address;  // network order; 0: any
  uint16_t port;     // host order; 0: any
  uint32_t batch;
  uint32_t ring_size;
  uint32_t frame_size;
  uint32_t tx_budget;
  int need_wakeup;
  int wait;
  double duration;
  uint8_t mac[6];  // the interface's, read at start
};

static void usage(void) {
  fprintf(stderr,
          "usage: xsk-echo --iface IF [--mode native|generic] [--queue Q] [--address IP] [--port N]\n"
          "                [--batch N] [--ring-size N] [--frame-size N] [--tx-budget N] [--need-wakeup]\n"
          "                [--wait] [--duration SECONDS]\n");
  exit(2);
}

static int power_of_two(uint32_t n) { return n != 0 && (n & (n - 1)) == 0; }

static void parse_options(int argc, char** argv, struct options* o) {
  *o = (struct options){ .batch = 64, .ring_size = 2048, .frame_size = 2048 };
  for (int i = 1; i < argc; i++) {
    const char* name = argv[i];
    if (!strcmp(name, "--need-wakeup")) { o->need_wakeup = 1; continue; }
    if (!strcmp(name, "--wait")) { o->wait = 1; continue; }
    if (i + 1 >= argc) usage();
    const char* value = argv[++i];
    if (!strcmp(name, "--iface")) o->ifname = value;
    else if (!strcmp(name, "--mode")) {
      if (strcmp(value, "native") && strcmp(value, "generic")) usage();
      o->generic = !strcmp(value, "generic");
    } else if (!strcmp(name, "--queue")) o->queue = (uint32_t)atoi(value);
    else if (!strcmp(name, "--address")) {
      unsigned a, b, c, d;
      if (sscanf(value, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a > 255 || b > 255 || c > 255 || d > 255) usage();
      uint8_t bytes[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
      memcpy(&o->address, bytes, 4);
    } else if (!strcmp(name, "--port")) o->port = (uint16_t)atoi(value);
    else if (!strcmp(name, "--batch")) o->batch = (uint32_t)atoi(value);
    else if (!strcmp(name, "--ring-size")) o->ring_size = (uint32_t)atoi(value);
    else if (!strcmp(name, "--frame-size")) o->frame_size = (uint32_t)atoi(value);
    else if (!strcmp(name, "--tx-budget")) o->tx_budget = (uint32_t)atoi(value);
    else if (!strcmp(name, "--duration")) o->duration = atof(value);
    else {
      fprintf(stderr, "xsk-echo: unknown option %s\n", name);
      usage();
    }
  }
  if (o->ifname == NULL) usage();
  if (o->batch < 1 || o->batch > MAX_BATCH) { fprintf(stderr, "xsk-echo: --batch must be 1..%d\n", MAX_BATCH); exit(2); }
  if (!power_of_two(o->ring_size) || o->ring_size < 64) { fprintf(stderr, "xsk-echo: --ring-size must be a power of two, at least 64\n"); exit(2); }
  if (o->frame_size != 2048 && o->frame_size != 4096) { fprintf(stderr, "xsk-echo: --frame-size must be 2048 or 4096\n"); exit(2); }
}

static void read_mac(const char* ifname, uint8_t mac[6]) {
  char file[128];
  snprintf(file, sizeof file, "/sys/class/net/%s/address", ifname);
  FILE* f = fopen(file, "r");
  if (f == NULL) fail(file);
  unsigned b[6];
  if (fscanf(f, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) { errno = EINVAL; fail(file); }
  fclose(f);
  for (int i = 0; i < 6; i++) mac[i] = (uint8_t)b[i];
}

// ---- BPF: an XSKMAP and the program that redirects each queue's frames to its socket ----

static int bpf_call(int command, union bpf_attr* attr) { return (int)syscall(__NR_bpf, command, attr, sizeof(*attr)); }

static int make_xskmap(void) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = BPF_MAP_TYPE_XSKMAP;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 64;
  int fd = bpf_call(BPF_MAP_CREATE, &attr);
  if (fd < 0) fail("bpf(BPF_MAP_CREATE)");
  return fd;
}

// return bpf_redirect_map(&xskmap, ctx->rx_queue_index, XDP_PASS);
static int load_redirect_program(int map_fd) {
  struct bpf_insn program[] = {
    { .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_1, .off = 16 },
    { .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map_fd },
    { .code = 0 },
    { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = XDP_PASS },
    { .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_redirect_map },
    { .code = BPF_JMP | BPF_EXIT },
  };
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_XDP;
  attr.insns = (uint64_t)(uintptr_t)program;
  attr.insn_cnt = sizeof program / sizeof program[0];
  attr.license = (uint64_t)(uintptr_t)"BSD";
  int fd = bpf_call(BPF_PROG_LOAD, &attr);
  if (fd < 0) fail("bpf(BPF_PROG_LOAD)");
  return fd;
}

// A bpf_link: the program goes away with the process.
static int attach_program(int program_fd, int ifindex, int generic) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.link_create.prog_fd = program_fd;
  attr.link_create.target_ifindex = ifindex;
  attr.link_create.attach_type = BPF_XDP;
  attr.link_create.flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
  int fd = bpf_call(BPF_LINK_CREATE, &attr);
  if (fd < 0) fail("bpf(BPF_LINK_CREATE)");
  return fd;
}

static void publish_socket(int map_fd, uint32_t queue, int socket_fd) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_fd = map_fd;
  attr.key = (uint64_t)(uintptr_t)&queue;
  attr.value = (uint64_t)(uintptr_t)&socket_fd;
  if (bpf_call(BPF_MAP_UPDATE_ELEM, &attr) != 0) fail("bpf(BPF_MAP_UPDATE_ELEM)");
}

// ---- rings ----

// One side of a ring is ours (cached, published with a release store), the
// other the kernel's (read with an acquire load only when the cache runs out).
struct ring {
  uint32_t* producer;
  uint32_t* consumer;
  uint32_t* flags;
  void* entries;
  uint32_t mask;
  uint32_t size;
  uint32_t head;   // our index: producer for fill/TX, consumer for RX/completion
  uint32_t other;  // the kernel's index as last seen
};

static inline uint32_t load_acquire(uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store_release(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static void map_ring(int fd, const struct xdp_ring_offset* offsets, uint32_t size, size_t entry_size, off_t page_offset,
                     struct ring* ring, int producer_side) {
  size_t length = offsets->desc + size * entry_size;
  char* base = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, page_offset);
  if (base == MAP_FAILED) fail("mmap(ring)");
  ring->producer = (uint32_t*)(base + offsets->producer);
  ring->consumer = (uint32_t*)(base + offsets->consumer);
  ring->flags = (uint32_t*)(base + offsets->flags);
  ring->entries = base + offsets->desc;
  ring->size = size;
  ring->mask = size - 1;
  ring->head = producer_side ? *ring->producer : *ring->consumer;
  ring->other = producer_side ? *ring->consumer : *ring->producer;
}

// Producer rings: room for `wanted` entries, refreshing the kernel's consumer only when short.
static inline uint32_t producer_free(struct ring* r, uint32_t wanted) {
  uint32_t free_entries = r->size - (r->head - r->other);
  if (free_entries >= wanted) return free_entries;
  r->other = load_acquire(r->consumer);
  return r->size - (r->head - r->other);
}

// Consumer rings: entries ready, refreshing the kernel's producer only when the cache is empty.
static inline uint32_t consumer_ready(struct ring* r, uint32_t most) {
  uint32_t ready = r->other - r->head;
  if (ready == 0) {
    r->other = load_acquire(r->producer);
    ready = r->other - r->head;
  }
  return ready < most ? ready : most;
}

// ---- the socket ----

struct port {
  int fd;
  uint8_t* umem;
  uint32_t frame_size;
  struct ring fill, completion, rx, tx;
  uint64_t* spare;  // frames the fill ring had no room for
  uint32_t spare_count;
};

static void set_ring_size(int fd, int option, uint32_t size, const char* what) {
  int entries = (int)size;
  if (setsockopt(fd, SOL_XDP, option, &entries, sizeof entries) != 0) fail(what);
}

static void open_port(const struct options* o, int ifindex, struct port* p) {
  uint32_t frames = 2 * o->ring_size;
  p->frame_size = o->frame_size;
  p->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (p->fd < 0) fail("socket(AF_XDP)");
  size_t umem_length = (size_t)frames * o->frame_size;
  p->umem = mmap(NULL, umem_length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p->umem == MAP_FAILED) fail("mmap(UMEM)");
  struct {
    uint64_t addr, len;
    uint32_t chunk_size, headroom, flags, tx_metadata_len;
  } registration;
  memset(&registration, 0, sizeof registration);
  registration.addr = (uint64_t)(uintptr_t)p->umem;
  registration.len = umem_length;
  registration.chunk_size = o->frame_size;
  if (setsockopt(p->fd, SOL_XDP, XDP_UMEM_REG, &registration, sizeof registration) != 0) fail("setsockopt(XDP_UMEM_REG)");
  set_ring_size(p->fd, XDP_UMEM_FILL_RING, o->ring_size, "setsockopt(XDP_UMEM_FILL_RING)");
  set_ring_size(p->fd, XDP_UMEM_COMPLETION_RING, o->ring_size, "setsockopt(XDP_UMEM_COMPLETION_RING)");
  set_ring_size(p->fd, XDP_RX_RING, o->ring_size, "setsockopt(XDP_RX_RING)");
  set_ring_size(p->fd, XDP_TX_RING, o->ring_size, "setsockopt(XDP_TX_RING)");
  struct xdp_mmap_offsets offsets;
  socklen_t offsets_length = sizeof offsets;
  if (getsockopt(p->fd, SOL_XDP, XDP_MMAP_OFFSETS, &offsets, &offsets_length) != 0) fail("getsockopt(XDP_MMAP_OFFSETS)");
  map_ring(p->fd, &offsets.fr, o->ring_size, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING, &p->fill, 1);
  map_ring(p->fd, &offsets.cr, o->ring_size, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING, &p->completion, 0);
  map_ring(p->fd, &offsets.rx, o->ring_size, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING, &p->rx, 0);
  map_ring(p->fd, &offsets.tx, o->ring_size, sizeof(struct xdp_desc), XDP_PGOFF_TX_RING, &p->tx, 1);
  if (o->tx_budget != 0) {
    uint32_t budget = o->tx_budget;
    if (setsockopt(p->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget, sizeof budget) != 0) fail("setsockopt(XDP_MAX_TX_SKB_BUDGET)");
  }
  struct sockaddr_xdp address = {
    .sxdp_family = AF_XDP, .sxdp_ifindex = (uint32_t)ifindex, .sxdp_queue_id = o->queue,
    .sxdp_flags = XDP_COPY | (o->need_wakeup ? XDP_USE_NEED_WAKEUP : 0),
  };
  // A socket closed just before on the same queue may still be tearing down.
  for (int attempt = 0;; attempt++) {
    if (bind(p->fd, (struct sockaddr*)&address, sizeof address) == 0) break;
    if (errno != EBUSY || attempt == 50) fail("bind(AF_XDP)");
    usleep(20000);
  }
  // Half the frames go to the fill ring; the other half wait for room in it.
  uint64_t* fill = p->fill.entries;
  for (uint32_t i = 0; i < o->ring_size; i++) fill[i & p->fill.mask] = (uint64_t)i * o->frame_size;
  p->fill.head += o->ring_size;
  store_release(p->fill.producer, p->fill.head);
  p->spare = malloc(sizeof(uint64_t) * frames);
  if (p->spare == NULL) fail("malloc");
  for (uint32_t i = o->ring_size; i < frames; i++) p->spare[p->spare_count++] = (uint64_t)i * o->frame_size;
}

// ---- the echo ----

struct totals {
  uint64_t frames, replies, dropped, bad_checksum, partial_checksum, full_checksum, arp_replies, kicks, wakeups, polls;
};

static inline uint32_t fold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  return (sum & 0xffff) + (sum >> 16);
}

// Ones' complement sum of `length` bytes as big-endian 16-bit words, added to
// `sum`, folded to 16 bits (RFC 1071). The bytes are read 8 at a time in the
// machine's order: the sum of little-endian words is the byte swap of the
// sum of big-endian ones.
static inline uint32_t sum_words(const uint8_t* bytes, uint32_t length, uint32_t sum) {
  uint64_t wide = 0;
  for (; length >= 8; bytes += 8, length -= 8) {
    uint64_t chunk;
    memcpy(&chunk, bytes, 8);
    wide += (chunk & 0xffffffff) + (chunk >> 32);
  }
  for (; length >= 2; bytes += 2, length -= 2) {
    uint16_t word;
    memcpy(&word, bytes, 2);
    wide += word;
  }
  if (length) wide += bytes[0];  // the high byte of a big-endian word: the low one of a little-endian word
  while (wide >> 16) wide = (wide & 0xffff) + (wide >> 16);
  uint32_t swapped = (uint32_t)((wide & 0xff) << 8 | wide >> 8);
  sum += swapped;
  return (sum & 0xffff) + (sum >> 16);
}

static inline uint16_t read16(const uint8_t* p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void write16(uint8_t* p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

// An ARP request for our address becomes its reply in place (RFC 826), so that peers can find us.
static int answer_arp(uint8_t* frame, uint32_t length, const struct options* o, struct totals* t) {
  uint8_t* arp = frame + ETH_LEN;
  if (length < ETH_LEN + 28 || o->address == 0) return 0;
  static const uint8_t request_header[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };  // Ethernet, IPv4, request
  if (memcmp(arp, request_header, 8) != 0 || memcmp(arp + 24, &o->address, 4) != 0) return 0;
  arp[7] = 2;
  memcpy(arp + 18, arp + 8, 10);     // target := the sender's MAC and address
  memcpy(arp + 8, o->mac, 6);        // sender := us
  memcpy(arp + 14, &o->address, 4);
  memcpy(frame, arp + 18, 6);
  memcpy(frame + 6, o->mac, 6);
  t->arp_replies++;
  return 1;
}

// Turn the request at `frame` into its reply in place; returns 0 to drop it.
static int echo_frame(uint8_t* frame, uint32_t length, const struct options* o, struct totals* t) {
  if (length < ETH_LEN || (memcmp(frame, o->mac, 6) != 0 && !(frame[0] & 1))) return 0;
  if (frame[12] == 0x08 && frame[13] == 0x06) return answer_arp(frame, length, o, t);
  if (length < ETH_LEN + IP_LEN + UDP_LEN || frame[12] != 0x08 || frame[13] != 0x00) return 0;
  uint8_t* ip = frame + ETH_LEN;
  if (ip[0] != 0x45 || ip[9] != 17) return 0;
  uint32_t total = read16(ip + 2);
  if (total < IP_LEN + UDP_LEN || total > length - ETH_LEN || (read16(ip + 6) & 0x3fff) != 0) return 0;
  if (o->address != 0 && memcmp(ip + 16, &o->address, 4) != 0) return 0;
  if (fold(sum_words(ip, IP_LEN, 0)) != 0xffff) { t->bad_checksum++; return 0; }
  uint8_t* udp = ip + IP_LEN;
  uint32_t udp_length = read16(udp + 4);
  if (udp_length < UDP_LEN || udp_length > total - IP_LEN) return 0;
  if (o->port != 0 && read16(udp + 2) != o->port) return 0;
  uint16_t field = read16(udp + 6);
  if (field != 0) {
    uint32_t pseudo = sum_words(ip + 12, 8, 17 + udp_length);
    uint32_t sum = fold(sum_words(udp, udp_length, pseudo));
    if (sum != 0xffff) {
      // Partial: the field holds only the pseudo-header sum. The full checksum is the complement of the segment's sum as it came.
      if (field != fold(pseudo)) { t->bad_checksum++; return 0; }
      uint32_t segment = fold(sum + (~field & 0xffff));
      uint16_t full = (uint16_t)~segment;
      write16(udp + 6, full ? full : 0xffff);
      t->partial_checksum++;
    } else {
      // Verified in full; a partial one whose pseudo-header sum happens to be a valid full checksum (about 1 in 65,535) lands here too.
      t->full_checksum++;
    }
  }
  uint8_t mac[6];
  memcpy(mac, frame, 6);
  memcpy(frame, frame + 6, 6);
  memcpy(frame + 6, mac, 6);
  uint8_t address[4];
  memcpy(address, ip + 12, 4);
  memcpy(ip + 12, ip + 16, 4);
  memcpy(ip + 16, address, 4);
  uint8_t port[2];
  memcpy(port, udp, 2);
  memcpy(udp, udp + 2, 2);
  memcpy(udp + 2, port, 2);
  // TTL 64, checksum updated by RFC 1624 for the one word that changed.
  uint16_t old_word = read16(ip + 8);
  ip[8] = 64;
  uint16_t new_word = read16(ip + 8);
  uint32_t check = (~read16(ip + 10) & 0xffff) + (~old_word & 0xffff) + new_word;
  write16(ip + 10, (uint16_t)~fold(check));
  t->replies++;
  return 1;
}

// Completed TX frames, and frames dropped meanwhile, go back to the fill ring
// (or wait as spares while it is full).
static void refill(struct port* p) {
  uint32_t done = consumer_ready(&p->completion, p->completion.size);
  if (done == 0 && p->spare_count == 0) return;
  uint64_t* completed = p->completion.entries;
  uint64_t* fill = p->fill.entries;
  uint32_t room = producer_free(&p->fill, done + p->spare_count);
  uint32_t filled = 0;
  uint32_t i = 0;
  for (; i < done && filled < room; i++, filled++) fill[p->fill.head++ & p->fill.mask] = completed[(p->completion.head + i) & p->completion.mask];
  for (; i < done; i++) p->spare[p->spare_count++] = completed[(p->completion.head + i) & p->completion.mask];
  for (; filled < room && p->spare_count > 0; filled++) fill[p->fill.head++ & p->fill.mask] = p->spare[--p->spare_count];
  if (done) {
    p->completion.head += done;
    store_release(p->completion.consumer, p->completion.head);
  }
  if (filled) store_release(p->fill.producer, p->fill.head);
}

static void kick_tx(struct port* p, const struct options* o, struct totals* t) {
  if (o->need_wakeup && !(load_acquire(p->tx.flags) & XDP_RING_NEED_WAKEUP)) return;
  t->kicks++;
  if (sendto(p->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != ENETDOWN)
    fail("sendto");
}

static void run(struct port* p, const struct options* o, struct totals* t) {
  double end = o->duration > 0 ? now_seconds() + o->duration : 0;
  uint32_t idle_turns = 0;
  uint32_t turns = 0;
  struct pollfd watch = { .fd = p->fd, .events = POLLIN };
  while (!stopping) {
    uint32_t count = consumer_ready(&p->rx, o->batch);
    if (count > 0) {
      idle_turns = 0;
      // Reserve a TX slot for every frame taken, whether it is answered or not.
      while (producer_free(&p->tx, count) < count) {
        kick_tx(p, o, t);
        refill(p);
        if (stopping) return;
      }
      const struct xdp_desc* received = p->rx.entries;
      struct xdp_desc* sending = p->tx.entries;
      uint32_t sending_count = 0;
      for (uint32_t i = 0; i < count; i++) {
        const struct xdp_desc* d = &received[(p->rx.head + i) & p->rx.mask];
        uint64_t addr = d->addr;
        uint32_t length = d->len;
        if (echo_frame(p->umem + addr, length, o, t)) {
          struct xdp_desc* out = &sending[p->tx.head++ & p->tx.mask];
          out->addr = addr;
          out->len = length;
          out->options = 0;
          sending_count++;
        } else {
          p->spare[p->spare_count++] = addr & ~(uint64_t)(p->frame_size - 1);
        }
      }
      p->rx.head += count;
      store_release(p->rx.consumer, p->rx.head);
      if (sending_count) store_release(p->tx.producer, p->tx.head);
      t->frames += count;
      t->dropped += count - sending_count;
    } else {
      idle_turns++;
    }
    if (p->tx.head != load_acquire(p->tx.consumer)) kick_tx(p, o, t);
    refill(p);
    if (o->need_wakeup && count == 0 && (load_acquire(p->fill.flags) & XDP_RING_NEED_WAKEUP)) {
      t->wakeups++;
      recvfrom(p->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
    }
    if ((++turns & 4095) == 0 && end != 0 && now_seconds() >= end) return;
    // Blocking is safe only with nothing in flight: completions do not wake poll().
    if (o->wait && count == 0 && idle_turns >= 1024 && p->tx.head == p->completion.head) {
      t->polls++;
      idle_turns = 0;
      poll(&watch, 1, 100);
    }
  }
}

int main(int argc, char** argv) {
  struct options o;
  parse_options(argc, argv, &o);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
  setrlimit(RLIMIT_MEMLOCK, &unlimited);
  int ifindex = (int)if_nametoindex(o.ifname);
  if (ifindex == 0) fail(o.ifname);
  read_mac(o.ifname, o.mac);
  int map_fd = make_xskmap();
  int program_fd = load_redirect_program(map_fd);
  int link_fd = attach_program(program_fd, ifindex, o.generic);
  struct port p;
  memset(&p, 0, sizeof p);
  open_port(&o, ifindex, &p);
  publish_socket(map_fd, o.queue, p.fd);
  printf("ready\n");
  fflush(stdout);
  struct totals t;
  memset(&t, 0, sizeof t);
  double start = now_seconds();
  run(&p, &o, &t);
  double seconds = now_seconds() - start;
  struct xdp_statistics kernel;
  socklen_t kernel_length = sizeof kernel;
  memset(&kernel, 0, sizeof kernel);
  getsockopt(p.fd, SOL_XDP, XDP_STATISTICS, &kernel, &kernel_length);
  printf("{\"frames\":%llu,\"replies\":%llu,\"dropped\":%llu,\"badChecksum\":%llu,\"partialChecksum\":%llu,\"fullChecksum\":%llu,\"arpReplies\":%llu,"
         "\"kicks\":%llu,\"wakeups\":%llu,\"polls\":%llu,\"seconds\":%.3f,"
         "\"kernel\":{\"rxDropped\":%llu,\"rxRingFull\":%llu,\"rxFillRingEmptyDescs\":%llu,\"txRingEmptyDescs\":%llu}}\n",
         (unsigned long long)t.frames, (unsigned long long)t.replies, (unsigned long long)t.dropped,
         (unsigned long long)t.bad_checksum, (unsigned long long)t.partial_checksum, (unsigned long long)t.full_checksum,
         (unsigned long long)t.arp_replies,
         (unsigned long long)t.kicks,
         (unsigned long long)t.wakeups, (unsigned long long)t.polls, seconds, (unsigned long long)kernel.rx_dropped,
         (unsigned long long)kernel.rx_ring_full, (unsigned long long)kernel.rx_fill_ring_empty_descs,
         (unsigned long long)kernel.tx_ring_empty_descs);
  close(p.fd);
  close(link_fd);
  close(program_fd);
  close(map_fd);
  return 0;
}

// An impairing Ethernet relay between two interfaces, for lab tests on a
// kernel without netem: every frame received on one interface is sent out
// of the other, after a delay, and is lost, reordered, duplicated or
// corrupted at the rates given.
//
//   impair-relay IF_A IF_B --loss P --delay MS --reorder P --reorder-ms MS
//                --duplicate P --corrupt P --seconds S [--seed N]
//
// It behaves as a wire after a NIC would: a same-host sender's TSO/GSO
// frames (up to 64 KiB, seen through PACKET_VNET_HDR) are cut into segments
// of gso_size and every checksum left partial is completed, so impairments
// apply per segment and a corrupted byte is caught by the receiver's
// checksum (as netem corrupts after computing it). Counts go to stdout as
// one JSON line when it stops (after --seconds, or on SIGINT/SIGTERM).

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 65600
#define SEGMENT_ROOM 9216
#define QUEUE_MAX 65536

struct held {
  uint64_t due_ns;
  uint64_t order;
  int out;
  uint16_t length;
  uint8_t *bytes;
};

static struct held queue[QUEUE_MAX];
static int queued = 0;
static uint64_t order_counter = 0;
static volatile sig_atomic_t stopping = 0;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static struct {
  uint64_t frames, segments, lost, duplicated, reordered, corrupted, overflow, gso;
} counts;

static void on_signal(int sig) { (void)sig; stopping = 1; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double uniform(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += (uint32_t)p[n - 1] << 8;
  return sum;
}

static uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

/* Full IPv4 header and TCP/UDP checksums of an Ethernet frame (no VLAN tag). */
static void fill_checksums(uint8_t *frame, size_t length) {
  if (length < 34 || frame[12] != 0x08 || frame[13] != 0x00) return;
  uint8_t *ip = frame + 14;
  size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
  size_t total = (size_t)(ip[2] << 8 | ip[3]);
  if (ihl < 20 || total < ihl || 14 + total > length) return;
  ip[10] = ip[11] = 0;
  uint16_t ipsum = (uint16_t)~fold(sum16(ip, ihl, 0));
  ip[10] = (uint8_t)(ipsum >> 8);
  ip[11] = (uint8_t)ipsum;
  if ((ip[6] & 0x3f) != 0 || ip[7] != 0) return; /* fragments keep their checksum */
  uint8_t protocol = ip[9];
  uint8_t *l4 = ip + ihl;
  size_t l4_length = total - ihl;
  size_t at;
  if (protocol == 6 && l4_length >= 20) at = 16;
  else if (protocol == 17 && l4_length >= 8) at = 6;
  else return;
  l4[at] = l4[at + 1] = 0;
  uint32_t sum = sum16(ip + 12, 8, 0) + protocol + (uint32_t)l4_length;
  uint16_t l4sum = (uint16_t)~fold(sum16(l4, l4_length, sum));
  if (protocol == 17 && l4sum == 0) l4sum = 0xffff;
  l4[at] = (uint8_t)(l4sum >> 8);
  l4[at + 1] = (uint8_t)l4sum;
}

static void hold(int out, const uint8_t *bytes, size_t length, uint64_t due) {
  if (queued == QUEUE_MAX) {
    counts.overflow++;
    return;
  }
  struct held *slot = &queue[queued];
  slot->bytes = malloc(length);
  memcpy(slot->bytes, bytes, length);
  slot->length = (uint16_t)length;
  slot->out = out;
  slot->due_ns = due;
  slot->order = order_counter++;
  /* Sift up: a min-heap on (due, order). */
  int i = queued++;
  while (i > 0) {
    int parent = (i - 1) / 2;
    struct held *a = &queue[i], *b = &queue[parent];
    if (b->due_ns < a->due_ns || (b->due_ns == a->due_ns && b->order < a->order)) break;
    struct held tmp = *a;
    *a = *b;
    *b = tmp;
    i = parent;
  }
}

static void pop(void) {
  free(queue[0].bytes);
  queue[0] = queue[--queued];
  int i = 0;
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < queued && (queue[l].due_ns < queue[m].due_ns || (queue[l].due_ns == queue[m].due_ns && queue[l].order < queue[m].order))) m = l;
    if (r < queued && (queue[r].due_ns < queue[m].due_ns || (queue[r].due_ns == queue[m].due_ns && queue[r].order < queue[m].order))) m = r;
    if (m == i) break;
    struct held tmp = queue[i];
    queue[i] = queue[m];
    queue[m] = tmp;
    i = m;
  }
}

struct options {
  double loss, reorder, duplicate, corrupt;
  uint64_t delay_ns, reorder_ns;
};

/* One wire-sized frame: impair it and queue it for `out`. */
static void impair(const struct options *o, int out, uint8_t *frame, size_t length) {
  counts.segments++;
  if (uniform() < o->loss) {
    counts.lost++;
    return;
  }
  if (uniform() < o->corrupt && length > 14) {
    size_t at = 14 + (size_t)(uniform() * (double)(length - 14));
    if (at >= length) at = length - 1;
    frame[at] ^= (uint8_t)(1u << (int)(uniform() * 8));
    counts.corrupted++;
  }
  uint64_t due = now_ns() + o->delay_ns;
  if (uniform() < o->reorder) {
    due += o->reorder_ns;
    counts.reordered++;
  }
  hold(out, frame, length, due);
  if (uniform() < o->duplicate) {
    counts.duplicated++;
    hold(out, frame, length, due);
  }
}

/* A frame as received with its virtio_net_hdr: cut TCPv4 GSO frames into segments, complete partial checksums. */
static void relay(const struct options *o, int out, uint8_t *buffer, size_t received) {
  if (received < sizeof(struct virtio_net_hdr)) return;
  struct virtio_net_hdr *vnet = (struct virtio_net_hdr *)buffer;
  uint8_t *frame = buffer + sizeof(*vnet);
  size_t length = received - sizeof(*vnet);
  counts.frames++;
  uint8_t gso = vnet->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
  if (gso != VIRTIO_NET_HDR_GSO_TCPV4 || vnet->gso_size == 0 || length < 54) {
    fill_checksums(frame, length);
    impair(o, out, frame, length);
    return;
  }
  counts.gso++;
  uint8_t *ip = frame + 14;
  size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
  uint8_t *tcp = ip + ihl;
  size_t header = 14 + ihl + (size_t)(tcp[12] >> 4) * 4;
  if (header >= length) return;
  size_t payload = length - header;
  size_t mss = vnet->gso_size;
  uint32_t seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
  uint16_t id = (uint16_t)(ip[4] << 8 | ip[5]);
  uint8_t flags = tcp[13];
  static uint8_t segment[SEGMENT_ROOM];
  for (size_t at = 0, index = 0; at < payload; at += mss, index++) {
    size_t size = payload - at < mss ? payload - at : mss;
    if (header + size > sizeof(segment)) return;
    memcpy(segment, frame, header);
    memcpy(segment + header, frame + header + at, size);
    uint8_t *sip = segment + 14;
    uint8_t *stcp = sip + ihl;
    size_t total = ihl + (header - 14 - ihl) + size;
    sip[2] = (uint8_t)(total >> 8);
    sip[3] = (uint8_t)total;
    uint16_t sid = (uint16_t)(id + index);
    sip[4] = (uint8_t)(sid >> 8);
    sip[5] = (uint8_t)sid;
    uint32_t sseq = seq + (uint32_t)at;
    stcp[4] = (uint8_t)(sseq >> 24);
    stcp[5] = (uint8_t)(sseq >> 16);
    stcp[6] = (uint8_t)(sseq >> 8);
    stcp[7] = (uint8_t)sseq;
    uint8_t f = flags;
    if (at + size < payload) f &= (uint8_t)~0x09; /* FIN and PSH on the last segment only */
    if (index > 0) f &= (uint8_t)~0x80;           /* CWR on the first only */
    stcp[13] = f;
    fill_checksums(segment, header + size);
    impair(o, out, segment, header + size);
  }
}

static int open_socket(const char *ifname) {
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) {
    perror("socket(AF_PACKET)");
    exit(1);
  }
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) != 0) perror("PACKET_VNET_HDR");
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) != 0) perror("PACKET_IGNORE_OUTGOING");
  int size = 32 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
  struct sockaddr_ll address;
  memset(&address, 0, sizeof(address));
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = (int)if_nametoindex(ifname);
  if (address.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
    fprintf(stderr, "bind %s failed\n", ifname);
    exit(1);
  }
  struct packet_mreq membership;
  memset(&membership, 0, sizeof(membership));
  membership.mr_ifindex = address.sll_ifindex;
  membership.mr_type = PACKET_MR_PROMISC;
  setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &membership, sizeof(membership));
  return fd;
}

/* Send a plain frame (a zeroed virtio_net_hdr in front: no offload asked). */
static void transmit(int fd, const uint8_t *frame, size_t length) {
  static uint8_t buffer[sizeof(struct virtio_net_hdr) + MAX_FRAME];
  memset(buffer, 0, sizeof(struct virtio_net_hdr));
  memcpy(buffer + sizeof(struct virtio_net_hdr), frame, length);
  if (send(fd, buffer, sizeof(struct virtio_net_hdr) + length, 0) < 0) counts.overflow++;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: impair-relay IF_A IF_B [--loss P] [--delay MS] [--reorder P] [--reorder-ms MS] [--duplicate P] [--corrupt P] [--seconds S] [--seed N]\n");
    return 2;
  }
  struct options o = {0};
  double seconds = 60;
  for (int i = 3; i + 1 < argc; i += 2) {
    double v = atof(argv[i + 1]);
    if (!strcmp(argv[i], "--loss")) o.loss = v;
    else if (!strcmp(argv[i], "--delay")) o.delay_ns = (uint64_t)(v * 1e6);
    else if (!strcmp(argv[i], "--reorder")) o.reorder = v;
    else if (!strcmp(argv[i], "--reorder-ms")) o.reorder_ns = (uint64_t)(v * 1e6);
    else if (!strcmp(argv[i], "--duplicate")) o.duplicate = v;
    else if (!strcmp(argv[i], "--corrupt")) o.corrupt = v;
    else if (!strcmp(argv[i], "--seconds")) seconds = v;
    else if (!strcmp(argv[i], "--seed")) rng_state ^= (uint64_t)v * 0x2545f4914f6cdd1dull;
    else {
      fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int fds[2] = {open_socket(argv[1]), open_socket(argv[2])};
  printf("ready\n");
  fflush(stdout);
  static uint8_t buffer[sizeof(struct virtio_net_hdr) + MAX_FRAME];
  uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
  struct pollfd polls[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
  while (!stopping && now_ns() < end) {
    int timeout = 50;
    if (queued > 0) {
      uint64_t now = now_ns();
      timeout = queue[0].due_ns <= now ? 0 : (int)((queue[0].due_ns - now) / 1000000) + 1;
      if (timeout > 50) timeout = 50;
    }
    poll(polls, 2, timeout);
    for (int side = 0; side < 2; side++) {
      if (!(polls[side].revents & POLLIN)) continue;
      for (int burst = 0; burst < 256; burst++) {
        ssize_t n = recv(fds[side], buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n <= 0) break;
        relay(&o, fds[1 - side], buffer, (size_t)n);
      }
    }
    uint64_t now = now_ns();
    while (queued > 0 && queue[0].due_ns <= now) {
      transmit(queue[0].out, queue[0].bytes, queue[0].length);
      pop();
    }
  }
  printf("{\"frames\":%llu,\"gsoFrames\":%llu,\"segments\":%llu,\"lost\":%llu,\"duplicated\":%llu,\"reordered\":%llu,\"corrupted\":%llu,\"overflow\":%llu}\n",
         (unsigned long long)counts.frames, (unsigned long long)counts.gso, (unsigned long long)counts.segments, (unsigned long long)counts.lost,
         (unsigned long long)counts.duplicated, (unsigned long long)counts.reordered, (unsigned long long)counts.corrupted,
         (unsigned long long)counts.overflow);
  return 0;
}

// A UDP load from a kernel socket, as a real peer sends it: sendmmsg on one
// connected socket, bounded by a count and a duration, flat out or paced.
// On veth the kernel leaves each datagram's checksum partial (the
// pseudo-header sum only, for an offload that never runs), which is what a
// same-host peer's responder has to take. The payload starts with "NRG1"
// (the generator's magic) and is zero after it. Prints one JSON line with
// what it sent.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 256
#define MAX_PAYLOAD 1472

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void usage(void) {
  fprintf(stderr, "usage: socket-flood --target IP:PORT [--size BYTES] [--count N] [--duration SECONDS] [--rate PPS] [--batch N] [--source-port PORT]\n");
  exit(2);
}

int main(int argc, char** argv) {
  const char* target = NULL;
  int size = 64, batch = 64, source_port = 0;
  double duration = 10, rate = 0;
  unsigned long long count = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--target")) target = argv[i + 1];
    else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--count")) count = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--duration")) duration = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--rate")) rate = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--source-port")) source_port = atoi(argv[i + 1]);
    else { fprintf(stderr, "socket-flood: unknown option %s\n", argv[i]); usage(); }
  }
  if (target == NULL) usage();
  if (size < 4 || size > MAX_PAYLOAD) { fprintf(stderr, "socket-flood: --size must be 4..%d\n", MAX_PAYLOAD); return 2; }
  if (batch < 1 || batch > MAX_BATCH) { fprintf(stderr, "socket-flood: --batch must be 1..%d\n", MAX_BATCH); return 2; }
  if (duration <= 0 || duration > 3600 || count == 0) { fprintf(stderr, "socket-flood: --duration must be 0..3600 s and --count positive\n"); return 2; }
  char address[64];
  const char* colon = strrchr(target, ':');
  if (colon == NULL || (size_t)(colon - target) >= sizeof address) usage();
  memcpy(address, target, colon - target);
  address[colon - target] = 0;
  struct sockaddr_in remote = { .sin_family = AF_INET, .sin_port = htons(atoi(colon + 1)) };
  if (inet_pton(AF_INET, address, &remote.sin_addr) != 1) { fprintf(stderr, "socket-flood: bad --target %s\n", target); return 2; }

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int buffer = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  if (source_port != 0) {
    struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = htons(source_port) };
    if (bind(fd, (struct sockaddr*)&local, sizeof local) < 0) { perror("bind"); return 1; }
  }
  if (connect(fd, (struct sockaddr*)&remote, sizeof remote) < 0) { perror("connect"); return 1; }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  static char payload[MAX_PAYLOAD];
  memcpy(payload, "NRG1", 4);
  static struct iovec iov[MAX_BATCH];
  static struct mmsghdr messages[MAX_BATCH];
  for (int i = 0; i < batch; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = (size_t)size;
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0, errors = 0;
  double start = now_seconds(), end = start + duration, now = start;
  while (!stopping && sent < count && now < end) {
    unsigned long long want = count - sent < (unsigned long long)batch ? count - sent : (unsigned long long)batch;
    if (rate > 0) {
      // Paced: no more than rate × elapsed in all, looked at every millisecond.
      double allowed = rate * (now - start) - (double)sent;
      if (allowed < 1) {
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, NULL);
        now = now_seconds();
        continue;
      }
      if ((double)want > allowed) want = (unsigned long long)allowed;
    }
    int n = sendmmsg(fd, messages, (unsigned)want, 0);
    if (n > 0) sent += (unsigned long long)n;
    else if (errno != EINTR) errors++;
    now = now_seconds();
  }
  printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.3f}\n", sent, errors, now_seconds() - start);
  return 0;
}

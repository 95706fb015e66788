// UDP echo server on a kernel socket with recvmmsg/sendmmsg: the plain C
// baseline for `nicring bench`. Answers every datagram to its sender, in
// batches of up to --batch, until SIGINT/SIGTERM or --duration seconds.
// Prints one JSON line with its totals on exit.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 256
#define MAX_DATAGRAM 2048

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  const char* address = "0.0.0.0";
  int port = 9000, batch = 64;
  double duration = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--address")) address = argv[i + 1];
    else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--duration")) duration = atof(argv[i + 1]);
    else { fprintf(stderr, "echo-mmsg: unknown option %s\n", argv[i]); return 2; }
  }
  if (batch < 1 || batch > MAX_BATCH) { fprintf(stderr, "echo-mmsg: --batch must be 1..%d\n", MAX_BATCH); return 2; }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int size = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = htons(port) };
  if (inet_pton(AF_INET, address, &local.sin_addr) != 1) { fprintf(stderr, "echo-mmsg: bad --address %s\n", address); return 2; }
  if (bind(fd, (struct sockaddr*)&local, sizeof local) < 0) { perror("bind"); return 1; }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  static char buffers[MAX_BATCH][MAX_DATAGRAM];
  static struct iovec iov[MAX_BATCH];
  static struct sockaddr_in peers[MAX_BATCH];
  static struct mmsghdr messages[MAX_BATCH];
  unsigned long long received = 0, sent = 0, send_errors = 0;
  double start = now_seconds();
  printf("ready\n");
  fflush(stdout);
  while (!stopping && (duration <= 0 || now_seconds() - start < duration)) {
    for (int i = 0; i < batch; i++) {
      iov[i].iov_base = buffers[i];
      iov[i].iov_len = MAX_DATAGRAM;
      memset(&messages[i].msg_hdr, 0, sizeof messages[i].msg_hdr);
      messages[i].msg_hdr.msg_iov = &iov[i];
      messages[i].msg_hdr.msg_iovlen = 1;
      messages[i].msg_hdr.msg_name = &peers[i];
      messages[i].msg_hdr.msg_namelen = sizeof peers[i];
    }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 100) <= 0) continue;
    int n = recvmmsg(fd, messages, batch, MSG_DONTWAIT, NULL);
    if (n <= 0) continue;
    received += n;
    for (int i = 0; i < n; i++) iov[i].iov_len = messages[i].msg_len;
    int done = 0;
    while (done < n) {
      int m = sendmmsg(fd, messages + done, n - done, 0);
      if (m <= 0) { send_errors += n - done; break; }
      done += m;
    }
    sent += done;
  }
  printf("{\"received\":%llu,\"sent\":%llu,\"sendErrors\":%llu,\"seconds\":%.3f}\n", received, sent, send_errors, now_seconds() - start);
  return 0;
}

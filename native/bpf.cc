#include "bpf.h"

#include <linux/bpf.h>
#include <linux/if_link.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1U << 1)
#endif

namespace nicring {

namespace {

// Any license string will do: the program calls no GPL-only helper.
constexpr char kLicense[] = "MIT";
constexpr uint32_t kVerifierLogSize = 16 * 1024;

int Bpf(int command, union bpf_attr* attr) {
  long rc = syscall(__NR_bpf, command, attr, sizeof(*attr));
  return rc < 0 ? -errno : static_cast<int>(rc);
}

uint64_t Pointer(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

bpf_insn Instruction(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn insn;
  std::memset(&insn, 0, sizeof(insn));
  insn.code = code;
  insn.dst_reg = dst;
  insn.src_reg = src;
  insn.off = off;
  insn.imm = imm;
  return insn;
}

// dst = *(u32 *)(src + off)
bpf_insn LoadWord(uint8_t dst, uint8_t src, int16_t off) {
  return Instruction(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}

// dst = imm
bpf_insn MoveImmediate(uint8_t dst, int32_t imm) {
  return Instruction(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}

bpf_insn Call(int32_t helper) { return Instruction(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }

bpf_insn Exit() { return Instruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// dst = map (a 16-byte ld_imm64 that the verifier turns into a map pointer).
void LoadMapFd(std::vector<bpf_insn>* program, uint8_t dst, int mapFd) {
  program->push_back(Instruction(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, mapFd));
  program->push_back(Instruction(0, 0, 0, 0, 0));
}

// `name` shows in `ip link` and bpftool (at most 15 characters).
int LoadXdpProgram(const char* name, const std::vector<bpf_insn>& program, std::string* verifierLog) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  std::strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
  attr.prog_type = BPF_PROG_TYPE_XDP;
  attr.expected_attach_type = BPF_XDP;
  attr.insns = Pointer(program.data());
  attr.insn_cnt = static_cast<uint32_t>(program.size());
  attr.license = Pointer(kLicense);
  int fd = Bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0 || verifierLog == nullptr) return fd;
  // Load again with a log, only to explain the failure.
  std::vector<char> log(kVerifierLogSize, '\0');
  attr.log_buf = Pointer(log.data());
  attr.log_size = kVerifierLogSize;
  attr.log_level = 1;
  int retry = Bpf(BPF_PROG_LOAD, &attr);
  if (retry >= 0) {
    close(retry);
    return fd;
  }
  log.back() = '\0';
  *verifierLog = log.data();
  return retry;
}

}  // namespace

int CreateXskMap(uint32_t maxEntries) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_XSKMAP;
  attr.key_size = sizeof(uint32_t);
  attr.value_size = sizeof(uint32_t);
  attr.max_entries = maxEntries;
  std::strncpy(attr.map_name, "nicring_xsks", sizeof(attr.map_name) - 1);
  return Bpf(BPF_MAP_CREATE, &attr);
}

int LoadRedirectProgram(int mapFd, std::string* verifierLog) {
  std::vector<bpf_insn> program;
  // r2 = ctx->rx_queue_index (struct xdp_md offset 16)
  program.push_back(LoadWord(BPF_REG_2, BPF_REG_1, offsetof(struct xdp_md, rx_queue_index)));
  LoadMapFd(&program, BPF_REG_1, mapFd);
  // Frames of queues without a socket go on to the kernel stack.
  program.push_back(MoveImmediate(BPF_REG_3, XDP_PASS));
  program.push_back(Call(BPF_FUNC_redirect_map));
  program.push_back(Exit());
  return LoadXdpProgram("nicring_xsk", program, verifierLog);
}

int LoadTransmitProgram(std::string* verifierLog) {
  std::vector<bpf_insn> program;
  program.push_back(MoveImmediate(BPF_REG_0, XDP_TX));
  program.push_back(Exit());
  return LoadXdpProgram("nicring_tx", program, verifierLog);
}

int AttachXdpLink(int progFd, int ifindex, XdpAttachMode mode) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.link_create.prog_fd = static_cast<uint32_t>(progFd);
  attr.link_create.target_ifindex = static_cast<uint32_t>(ifindex);
  attr.link_create.attach_type = BPF_XDP;
  attr.link_create.flags = mode == XdpAttachMode::kNative ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  return Bpf(BPF_LINK_CREATE, &attr);
}

int UpdateMapEntry(int mapFd, uint32_t key, uint32_t value) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<uint32_t>(mapFd);
  attr.key = Pointer(&key);
  attr.value = Pointer(&value);
  attr.flags = BPF_ANY;
  int rc = Bpf(BPF_MAP_UPDATE_ELEM, &attr);
  return rc < 0 ? rc : 0;
}

int DeleteMapEntry(int mapFd, uint32_t key) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<uint32_t>(mapFd);
  attr.key = Pointer(&key);
  int rc = Bpf(BPF_MAP_DELETE_ELEM, &attr);
  return rc < 0 ? rc : 0;
}

int TestRunLiveFrames(int progFd, int ifindex, const uint8_t* frame, uint32_t frameLength,
                      uint32_t repeat, uint32_t batchSize) {
  struct xdp_md context;
  std::memset(&context, 0, sizeof(context));
  context.data = 0;
  context.data_end = frameLength;
  context.ingress_ifindex = static_cast<uint32_t>(ifindex);
  context.rx_queue_index = 0;
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.test.prog_fd = static_cast<uint32_t>(progFd);
  attr.test.data_in = Pointer(frame);
  attr.test.data_size_in = frameLength;
  attr.test.ctx_in = Pointer(&context);
  attr.test.ctx_size_in = sizeof(context);
  attr.test.repeat = repeat;
  attr.test.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
  attr.test.batch_size = batchSize;
  int rc = Bpf(BPF_PROG_TEST_RUN, &attr);
  return rc < 0 ? rc : 0;
}

}  // namespace nicring

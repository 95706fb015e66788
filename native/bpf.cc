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
#ifndef BPF_F_XDP_HAS_FRAGS
#define BPF_F_XDP_HAS_FRAGS (1U << 5)
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

// dst = *(u16 *)(src + off) and *(u8 *)(src + off)
bpf_insn LoadHalf(uint8_t dst, uint8_t src, int16_t off) {
  return Instruction(BPF_LDX | BPF_MEM | BPF_H, dst, src, off, 0);
}
bpf_insn LoadByte(uint8_t dst, uint8_t src, int16_t off) {
  return Instruction(BPF_LDX | BPF_MEM | BPF_B, dst, src, off, 0);
}

// if (u32)dst != imm goto +off (32-bit compare: no sign extension of imm)
bpf_insn JumpIfNotEqual32(uint8_t dst, int32_t imm, int16_t off) {
  return Instruction(BPF_JMP32 | BPF_JNE | BPF_K, dst, 0, off, imm);
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
int LoadXdpProgram(const char* name, const std::vector<bpf_insn>& program, std::string* verifierLog,
                   uint32_t flags = 0) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  std::strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
  attr.prog_type = BPF_PROG_TYPE_XDP;
  attr.prog_flags = flags;
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
  // Frame fragments (multi-buffer XDP) are welcome: the program reads only the
  // context, and sockets bound with XDP_USE_SG take frames larger than a chunk.
  // Kernels before 5.18 do not know the flag: load without it there.
  int fd = LoadXdpProgram("nicring_xsk", program, nullptr, BPF_F_XDP_HAS_FRAGS);
  if (fd >= 0) return fd;
  return LoadXdpProgram("nicring_xsk", program, verifierLog);
}

int LoadTransmitProgram(std::string* verifierLog) {
  std::vector<bpf_insn> program;
  program.push_back(MoveImmediate(BPF_REG_0, XDP_TX));
  program.push_back(Exit());
  return LoadXdpProgram("nicring_tx", program, verifierLog);
}

int CreateCounterMap() {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = sizeof(uint32_t);
  attr.value_size = sizeof(uint64_t);
  attr.max_entries = 1;
  std::strncpy(attr.map_name, "nicring_count", sizeof(attr.map_name) - 1);
  return Bpf(BPF_MAP_CREATE, &attr);
}

int LoadCounterProgram(int mapFd, uint32_t address, uint16_t port, std::string* verifierLog) {
  // Packet loads read memory in host byte order, so each constant is its wire
  // bytes read the same way.
  const uint8_t ethertypeBytes[2] = {0x08, 0x00};
  uint16_t ethertypeIpv4 = 0;
  std::memcpy(&ethertypeIpv4, ethertypeBytes, sizeof(ethertypeIpv4));
  const int32_t versionIhl = 0x45;  // IPv4, 20-byte header
  const int32_t protocolUdp = 17;
  const int32_t wireAddress = static_cast<int32_t>(address);
  const int32_t wirePort = port;
  constexpr int16_t kEthertype = 12;
  constexpr int16_t kVersionIhl = 14;
  constexpr int16_t kProtocol = 14 + 9;
  constexpr int16_t kSource = 14 + 12;
  constexpr int16_t kSourcePort = 14 + 20;
  constexpr int32_t kHeaders = 14 + 20 + 8;

  std::vector<bpf_insn> program;
  // r2 = ctx->data, r3 = ctx->data_end; pass frames too short for the headers.
  program.push_back(LoadWord(BPF_REG_2, BPF_REG_1, offsetof(struct xdp_md, data)));
  program.push_back(LoadWord(BPF_REG_3, BPF_REG_1, offsetof(struct xdp_md, data_end)));
  program.push_back(Instruction(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0));
  program.push_back(Instruction(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_4, 0, 0, kHeaders));
  // Jump offsets count instructions from the next one; `pass` is patched below.
  std::vector<size_t> toPass;
  toPass.push_back(program.size());
  program.push_back(Instruction(BPF_JMP | BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_3, 0, 0));
  const struct { bool half; bool word; int16_t offset; int32_t value; } checks[] = {
      {true, false, kEthertype, ethertypeIpv4}, {false, false, kVersionIhl, versionIhl},
      {false, false, kProtocol, protocolUdp},   {false, true, kSource, wireAddress},
      {true, false, kSourcePort, wirePort},
  };
  for (const auto& check : checks) {
    program.push_back(check.word   ? LoadWord(BPF_REG_4, BPF_REG_2, check.offset)
                      : check.half ? LoadHalf(BPF_REG_4, BPF_REG_2, check.offset)
                                   : LoadByte(BPF_REG_4, BPF_REG_2, check.offset));
    toPass.push_back(program.size());
    program.push_back(JumpIfNotEqual32(BPF_REG_4, check.value, 0));
  }
  // A reply: *(u64 *)bpf_map_lookup_elem(&counter, &(u32){0}) += 1 (atomically), then drop it.
  program.push_back(Instruction(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0));
  program.push_back(Instruction(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0));
  program.push_back(Instruction(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4));
  LoadMapFd(&program, BPF_REG_1, mapFd);
  program.push_back(Call(BPF_FUNC_map_lookup_elem));
  program.push_back(Instruction(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0));
  program.push_back(MoveImmediate(BPF_REG_1, 1));
  program.push_back(Instruction(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_0, BPF_REG_1, 0, BPF_ADD));
  program.push_back(MoveImmediate(BPF_REG_0, XDP_DROP));
  program.push_back(Exit());
  const size_t pass = program.size();
  program.push_back(MoveImmediate(BPF_REG_0, XDP_PASS));
  program.push_back(Exit());
  for (size_t at : toPass) program[at].off = static_cast<int16_t>(pass - at - 1);
  return LoadXdpProgram("nicring_count", program, verifierLog);
}

int ReadCounter(int mapFd, uint64_t* value) {
  uint32_t key = 0;
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<uint32_t>(mapFd);
  attr.key = Pointer(&key);
  attr.value = Pointer(value);
  int rc = Bpf(BPF_MAP_LOOKUP_ELEM, &attr);
  return rc < 0 ? rc : 0;
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

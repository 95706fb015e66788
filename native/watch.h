// A readability watch on a file descriptor through libuv (uv_poll): the
// callback runs on Node's event loop, never on another thread. The handle
// is kept between Stop() and Start() so that pausing and re-arming a watch
// (the event loop does it under load) costs one epoll_ctl, not a new handle.
#pragma once

#include <napi.h>
#include <uv.h>

namespace nicring {

class FdWatch {
 public:
  FdWatch() = default;
  ~FdWatch();
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;

  // Start (or re-arm) the watch; returns 0 or a negative libuv error.
  int Start(Napi::Env env, int fd, Napi::Function callback);
  // Pause the watch (the handle stays for the next Start); safe to call more than once.
  void Stop();
  // Release the handle; call before the fd is closed. Safe to call more than once.
  void Close();
  bool active() const { return active_; }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnClose(uv_handle_t* handle);

  uv_poll_t* handle_ = nullptr;
  int fd_ = -1;
  bool active_ = false;
  napi_env env_ = nullptr;
  Napi::FunctionReference callback_;
};

// One callback after `delayMs`, as setTimeout or setImmediate, through libuv
// handles kept for reuse: scheduling allocates nothing on the JS heap. The
// event loop yields with one while frames are still waiting, so that the fd
// need not stay in epoll (where every transmit completion would wake it), and
// looks for transmit completions again with another.
//
// Delay 0 runs on the next turn of Node's loop through a uv_idle handle, as
// setImmediate does: a turn that re-arms it from its callback still lets that
// turn's poll phase (I/O, signals) and timers run first. A zero-delay
// uv_timer re-armed from its own callback would not: libuv before 1.48 runs it
// again within the same timer phase (libuv#4245), and a busy loop that yields
// that way never lets Node see a signal or a timer again.
class Deferral {
 public:
  Deferral() = default;
  ~Deferral();
  Deferral(const Deferral&) = delete;
  Deferral& operator=(const Deferral&) = delete;

  // Run `callback` once after `delayMs` (re-arming replaces a pending one);
  // returns 0 or a negative libuv error.
  int Schedule(Napi::Env env, Napi::Function callback, uint32_t delayMs);
  // Cancel a pending callback and release the handles. Safe to call more than once.
  void Close();

 private:
  static void OnIdle(uv_idle_t* handle);
  static void OnTimer(uv_timer_t* handle);
  static void OnIdleClose(uv_handle_t* handle);
  static void OnTimerClose(uv_handle_t* handle);
  void Run();

  uv_idle_t* idle_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  napi_env env_ = nullptr;
  Napi::FunctionReference callback_;
};

}  // namespace nicring

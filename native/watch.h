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

// One callback after `delayMs` (0: on the next turn of Node's loop), as
// setTimeout or setImmediate, but through a libuv timer kept for reuse:
// scheduling it allocates nothing on the JS heap. The event loop yields with
// one while frames are still waiting, so that the fd need not stay in epoll
// (where every transmit completion would wake it), and looks for transmit
// completions again with another.
class Deferral {
 public:
  Deferral() = default;
  ~Deferral();
  Deferral(const Deferral&) = delete;
  Deferral& operator=(const Deferral&) = delete;

  // Run `callback` once after `delayMs` (re-arming replaces a pending one);
  // returns 0 or a negative libuv error.
  int Schedule(Napi::Env env, Napi::Function callback, uint32_t delayMs);
  // Cancel a pending callback and release the handle. Safe to call more than once.
  void Close();

 private:
  static void OnTimer(uv_timer_t* handle);
  static void OnClose(uv_handle_t* handle);

  uv_timer_t* handle_ = nullptr;
  napi_env env_ = nullptr;
  Napi::FunctionReference callback_;
};

}  // namespace nicring

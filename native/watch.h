// A readability watch on a file descriptor through libuv (uv_poll): the
// callback runs on Node's event loop, never on another thread.
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

  // Start (or re-target) the watch; returns 0 or a negative libuv error.
  int Start(Napi::Env env, int fd, Napi::Function callback);
  // Stop the watch and release the handle; safe to call more than once.
  void Stop();
  bool active() const { return handle_ != nullptr; }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnClose(uv_handle_t* handle);

  uv_poll_t* handle_ = nullptr;
  napi_env env_ = nullptr;
  Napi::FunctionReference callback_;
};

}  // namespace nicring

#include "watch.h"

namespace nicring {

FdWatch::~FdWatch() { Close(); }

int FdWatch::Start(Napi::Env env, int fd, Napi::Function callback) {
  if (handle_ != nullptr && fd_ != fd) Close();
  if (handle_ == nullptr) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return UV_EINVAL;
    auto* handle = new uv_poll_t;
    int rc = uv_poll_init(loop, handle, fd);
    if (rc != 0) {
      delete handle;
      return rc;
    }
    handle->data = this;
    handle_ = handle;
    fd_ = fd;
  }
  if (callback_.IsEmpty() || !callback_.Value().StrictEquals(callback)) callback_ = Napi::Persistent(callback);
  env_ = env;
  int rc = uv_poll_start(handle_, UV_READABLE, OnPoll);
  if (rc != 0) {
    Close();
    return rc;
  }
  active_ = true;
  return 0;
}

void FdWatch::Stop() {
  if (handle_ == nullptr || !active_) return;
  uv_poll_stop(handle_);
  active_ = false;
}

void FdWatch::Close() {
  if (handle_ == nullptr) return;
  uv_poll_stop(handle_);
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_), OnClose);
  handle_ = nullptr;
  fd_ = -1;
  active_ = false;
  callback_.Reset();
}

void FdWatch::OnClose(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

namespace {

// Calls `callback` as an event-loop callback: microtasks run afterwards, and a
// throw becomes an uncaught exception.
void CallFromLoop(napi_env env, const Napi::FunctionReference& callback) {
  Napi::HandleScope scope(env);
  napi_value global;
  napi_get_global(env, &global);
  napi_value fn = callback.Value();
  napi_value result;
  napi_status s = napi_make_callback(env, nullptr, global, fn, 0, nullptr, &result);
  if (s == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

}  // namespace

void FdWatch::OnPoll(uv_poll_t* handle, int status, int events) {
  (void)status;
  (void)events;
  auto* self = static_cast<FdWatch*>(handle->data);
  if (self == nullptr || !self->active_ || self->callback_.IsEmpty()) return;
  CallFromLoop(self->env_, self->callback_);
}

Deferral::~Deferral() { Close(); }

int Deferral::Schedule(Napi::Env env, Napi::Function callback, uint32_t delayMs) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return UV_EINVAL;
  if (callback_.IsEmpty() || !callback_.Value().StrictEquals(callback)) callback_ = Napi::Persistent(callback);
  env_ = env;
  if (delayMs == 0) {
    if (idle_ == nullptr) {
      auto* handle = new uv_idle_t;
      int rc = uv_idle_init(loop, handle);
      if (rc != 0) {
        delete handle;
        return rc;
      }
      handle->data = this;
      idle_ = handle;
    }
    if (timer_ != nullptr) uv_timer_stop(timer_);
    return uv_idle_start(idle_, OnIdle);
  }
  if (timer_ == nullptr) {
    auto* handle = new uv_timer_t;
    int rc = uv_timer_init(loop, handle);
    if (rc != 0) {
      delete handle;
      return rc;
    }
    handle->data = this;
    timer_ = handle;
  }
  if (idle_ != nullptr) uv_idle_stop(idle_);
  return uv_timer_start(timer_, OnTimer, delayMs, 0);
}

void Deferral::Close() {
  if (idle_ != nullptr) {
    uv_idle_stop(idle_);
    idle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(idle_), OnIdleClose);
    idle_ = nullptr;
  }
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    timer_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), OnTimerClose);
    timer_ = nullptr;
  }
  callback_.Reset();
}

void Deferral::Run() {
  if (callback_.IsEmpty()) return;
  CallFromLoop(env_, callback_);
}

void Deferral::OnIdle(uv_idle_t* handle) {
  // Once per Schedule: stopped before the call, so that the callback may re-arm it for the next turn.
  uv_idle_stop(handle);
  auto* self = static_cast<Deferral*>(handle->data);
  if (self != nullptr) self->Run();
}

void Deferral::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<Deferral*>(handle->data);
  if (self != nullptr) self->Run();
}

void Deferral::OnIdleClose(uv_handle_t* handle) { delete reinterpret_cast<uv_idle_t*>(handle); }

void Deferral::OnTimerClose(uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); }

}  // namespace nicring

#include "affinity.h"

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace nicring {

namespace {

// pinThread(cpus): restricts the calling thread (the main thread or a worker)
// to `cpus` with pthread_setaffinity_np; returns the thread's id (gettid).
// The JS side checks that `cpus` is a non-empty array of CPU numbers.
Napi::Value PinThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "pinThread: cpus must be an array of CPU numbers").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array cpus = info[0].As<Napi::Array>();
  cpu_set_t set;
  CPU_ZERO(&set);
  for (uint32_t i = 0; i < cpus.Length(); i++) {
    Napi::Value value = cpus.Get(i);
    uint32_t cpu = value.IsNumber() ? value.As<Napi::Number>().Uint32Value() : CPU_SETSIZE;
    if (cpu >= CPU_SETSIZE) {
      Napi::RangeError::New(env, "pinThread: CPU numbers must be from 0 to " + std::to_string(CPU_SETSIZE - 1))
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    CPU_SET(cpu, &set);
  }
  int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (rc != 0) {
    ThrowErrno(env, rc, "pthread_setaffinity_np", "",
               rc == EINVAL ? "None of these CPUs is online or allowed to this process (see nproc, taskset -p)." : "");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(syscall(SYS_gettid)));
}

}  // namespace

void InitAffinity(Napi::Env env, Napi::Object exports) {
  exports.Set("pinThread", Napi::Function::New(env, PinThread, "pinThread"));
}

}  // namespace nicring

#include "mapping.h"

#include <sys/mman.h>

namespace nicring {

SharedMapping* SharedMapping::Adopt(void* address, size_t length) { return new SharedMapping(address, length); }

napi_status SharedMapping::CreateArrayBuffer(napi_env env, napi_value* result) {
  napi_status status =
      napi_create_external_arraybuffer(env, address_, length_, FinalizeArrayBuffer, this, result);
  if (status != napi_ok) return status;
  references_++;
  env_ = env;
  return napi_create_reference(env, *result, 0, &buffer_);
}

bool SharedMapping::Revoke() {
  if (unmapped_) return true;
  if (buffer_ != nullptr) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env_, &scope) != napi_ok) return false;
    napi_value buffer = nullptr;
    napi_status status = napi_get_reference_value(env_, buffer_, &buffer);
    // A collected buffer (null value) can reach nothing any more.
    if (status == napi_ok && buffer != nullptr) status = napi_detach_arraybuffer(env_, buffer);
    napi_close_handle_scope(env_, scope);
    if (status != napi_ok) return false;
  }
  Unmap();
  return true;
}

void SharedMapping::Release() {
  if (buffer_ != nullptr) {
    napi_delete_reference(env_, buffer_);
    buffer_ = nullptr;
  }
  Unreference();
}

void SharedMapping::FinalizeArrayBuffer(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  static_cast<SharedMapping*>(hint)->Unreference();
}

void SharedMapping::Unmap() {
  if (unmapped_) return;
  munmap(address_, length_);
  unmapped_ = true;
}

void SharedMapping::Unreference() {
  if (--references_ > 0) return;
  Unmap();
  delete this;
}

}  // namespace nicring

// A memory mapping lent to JS as one external ArrayBuffer, with the rules of
// the zero-copy contract: an explicit close detaches the buffer and unmaps at
// once; otherwise the mapping lives until both its owner and the buffer's
// finalizer have let go. No double munmap, no access after munmap.
#pragma once

#include <node_api.h>

#include <cstddef>

namespace nicring {

class SharedMapping {
 public:
  // Takes over a region returned by mmap(2); the caller holds the owner's
  // reference.
  static SharedMapping* Adopt(void* address, size_t length);

  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;

  // Wraps the whole region in an external ArrayBuffer (call at most once).
  napi_status CreateArrayBuffer(napi_env env, napi_value* result);

  // Detaches the ArrayBuffer, then unmaps. Returns false, leaving the
  // mapping in place until the finalizer, if the buffer cannot be detached.
  bool Revoke();

  // Drops the owner's reference: unmaps now unless the ArrayBuffer is still
  // alive, in which case its finalizer unmaps.
  void Release();

  void* address() const { return address_; }
  size_t length() const { return length_; }

 private:
  SharedMapping(void* address, size_t length) : address_(address), length_(length) {}
  ~SharedMapping() = default;

  static void FinalizeArrayBuffer(napi_env env, void* data, void* hint);
  void Unmap();
  void Unreference();

  void* address_;
  size_t length_;
  int references_ = 1;
  bool unmapped_ = false;
  napi_env env_ = nullptr;
  // Weak: lets Revoke find the buffer without keeping it alive.
  napi_ref buffer_ = nullptr;
};

}  // namespace nicring

// Shape-only module builds: while the guard is held on this thread, libtorch dispatches every
// operator to its Meta kernel (shapes and dtypes, no data). Factories still get uninitialised
// CPU storage (BackendSelect picks the backend from the options), but the fill, random init
// and arithmetic that follow run on Meta and never write it, so its pages are never touched:
// a 46B-parameter model builds in a few MiB of resident memory. Used to count a built module's
// parameters for every config, the largest included.
#include <ATen/core/Tensor.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

namespace {
// The thread's dispatch state before the build, then Meta included on top of it.
struct ShapesOnly {
  c10::impl::LocalDispatchKeySet before = c10::impl::tls_local_dispatch_key_set();
  c10::impl::IncludeDispatchKeyGuard meta{c10::DispatchKey::Meta};
};
}  // namespace

extern "C" {

// A new guard (null on error); end it with rb_shapes_only_end on the same thread.
void* rb_shapes_only_begin() {
  try {
    return new ShapesOnly();
  } catch (...) {
    return nullptr;
  }
}

void rb_shapes_only_end(void* guard) {
  delete static_cast<ShapesOnly*>(guard);
}

// Inside a shape-only build (`outer`, its guard), a new guard under which operators run their
// real kernels again: the dispatch state from before the build, for the few small tables a
// build computes from its config (rotary frequencies, sinusoids); null on error. End it with
// rb_shapes_only_resume on the same thread, before the outer guard ends. (Excluding Meta
// would not do: a backend key's set holds the Dense functionality every CPU kernel needs.)
void* rb_shapes_only_suspend(const void* outer) {
  try {
    return new c10::impl::ForceDispatchKeyGuard(static_cast<const ShapesOnly*>(outer)->before);
  } catch (...) {
    return nullptr;
  }
}

void rb_shapes_only_resume(void* guard) {
  delete static_cast<c10::impl::ForceDispatchKeyGuard*>(guard);
}

// Where a tensor's data lives (its storage, whether it has data or only a shape) plus its
// offset there: equal for two handles of one tensor (a tied weight), so it is counted once.
// `tensor` is tch's handle, a heap at::Tensor.
void* rb_tensor_storage(const void* tensor, int64_t* offset) {
  const auto* t = static_cast<const at::Tensor*>(tensor);
  *offset = t->storage_offset();
  return t->storage().unsafeGetStorageImpl();
}

}  // extern "C"

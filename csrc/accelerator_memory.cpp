// A small C shim over libtorch's device-generic allocator statistics, which tch does not
// expose: the caching allocator's current and peak allocated and reserved bytes, and a reset
// of the peaks. Every function returns 0 on success, 1 where no accelerator (GPU) is present,
// 2 on any libtorch error.
#include <ATen/DeviceAccelerator.h>
#include <cstdint>

namespace {
bool has_device(int device_index) {
  auto accelerator = at::accelerator::getAccelerator(false);
  return accelerator.has_value() && device_index >= 0 &&
         device_index < at::accelerator::deviceCount();
}
}  // namespace

extern "C" {

// out: allocated current, allocated peak, reserved current, reserved peak (bytes).
int rb_accelerator_memory_stats(int device_index, int64_t* out) {
  try {
    if (!has_device(device_index)) return 1;
    const auto stats = at::accelerator::getDeviceStats(device_index);
    const auto all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    out[0] = stats.allocated_bytes[all].current;
    out[1] = stats.allocated_bytes[all].peak;
    out[2] = stats.reserved_bytes[all].current;
    out[3] = stats.reserved_bytes[all].peak;
    return 0;
  } catch (...) {
    return 2;
  }
}

int rb_accelerator_reset_peak_stats(int device_index) {
  try {
    if (!has_device(device_index)) return 1;
    at::accelerator::resetPeakStats(device_index);
    return 0;
  } catch (...) {
    return 2;
  }
}
}

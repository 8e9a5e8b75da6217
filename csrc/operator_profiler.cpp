// A small C shim over libtorch's Kineto profiler (torch.profiler in Python), which tch does
// not expose: start recording operators (and CUDA kernels), stop, read each event, save the
// Chrome trace. Functions returning int give 0 on success and 2 on a libtorch error.
#include <torch/csrc/autograd/profiler_kineto.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>

namespace {
namespace prof = torch::autograd::profiler;
namespace impl = torch::profiler::impl;

impl::ProfilerConfig config() {
  return impl::ProfilerConfig(impl::ProfilerState::KINETO, /*report_input_shapes=*/false,
                              /*profile_memory=*/false);
}
}  // namespace

extern "C" {

int rb_profiler_start(int with_cuda) {
  try {
    std::set<impl::ActivityType> activities{impl::ActivityType::CPU};
    if (with_cuda) activities.insert(impl::ActivityType::CUDA);
    prof::prepareProfiler(config(), activities);
    prof::enableProfiler(config(), activities);
    return 0;
  } catch (...) {
    return 2;
  }
}

// The recorded events (an owned ProfilerResult), or null on an error.
void* rb_profiler_stop() {
  try {
    return prof::disableProfiler().release();
  } catch (...) {
    return nullptr;
  }
}

int64_t rb_profiler_event_count(void* result) {
  return static_cast<int64_t>(static_cast<prof::ProfilerResult*>(result)->events().size());
}

// Event `index`: its name into `name` (NUL-terminated, cut to `name_len` - 1 bytes) and into
// `out`: on a GPU (1) or not (0), start ns, duration ns, thread id.
int rb_profiler_event(void* result, int64_t index, char* name, int64_t name_len, int64_t* out) {
  try {
    const auto& event = static_cast<prof::ProfilerResult*>(result)->events().at(index);
    const std::string text = event.name();
    const size_t n = std::min(text.size(), static_cast<size_t>(name_len - 1));
    std::memcpy(name, text.data(), n);
    name[n] = '\0';
    const auto device = event.deviceType();
    out[0] = device == c10::DeviceType::CPU ? 0 : 1;
    out[1] = static_cast<int64_t>(event.startNs());
    out[2] = static_cast<int64_t>(event.durationNs());
    out[3] = static_cast<int64_t>(event.startThreadId());
    return 0;
  } catch (...) {
    return 2;
  }
}

int rb_profiler_save(void* result, const char* path) {
  try {
    static_cast<prof::ProfilerResult*>(result)->save(path);
    return 0;
  } catch (...) {
    return 2;
  }
}

void rb_profiler_free(void* result) { delete static_cast<prof::ProfilerResult*>(result); }
}

// Linked for Windows by scripts/cross-build-mingw.sh: the platform layer's calls resolve
// against the Win32 API. (Run under Windows it prints its process id and host name.)
#include <atomic>
#include <cstdio>

#include "common/platform.h"

int main() {
  std::atomic<int> stop{0};
  tianyu::platform::on_stop_requests(stop, false);
  tianyu::platform::ignore_broken_pipes();
  std::printf("process %ld on %s\n", tianyu::platform::process_id(), tianyu::platform::host_name().c_str());
  return stop.load();
}

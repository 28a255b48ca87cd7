// PickFreePort: a random port below the ephemeral range that bind() accepts now.
#include "src/orchestrator/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"

namespace shoal::orchestrator {

StatusOr<int> PickFreePort(const std::string& host) {
  int ephemeral_low = 32768;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> ephemeral_low;
  int low = std::max(1024, ephemeral_low - 12000);
  int high = std::max(low + 1, ephemeral_low);
  // One generator per thread: the Deployments of a Flow pick their ports at once.
  thread_local std::mt19937 random{std::random_device{}()};
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = std::uniform_int_distribution<int>(low, high - 1)(random);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return absl::InternalError("socket() failed while picking a Raft port");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &address.sin_addr);
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (free) return port;
  }
  return absl::UnavailableError(absl::StrCat("no free port on ", host, " in ", low, "..", high));
}

}  // namespace shoal::orchestrator

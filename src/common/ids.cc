// Random hex ids from a per-thread generator seeded once from the OS.
#include "src/common/ids.h"

#include <cstdint>
#include <random>

namespace shoal {

std::string RandomHexId() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = engine();
    for (int i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[bits & 0xf];
      bits >>= 4;
    }
  }
  return id;
}

namespace {

// FNV-1a over `seed`, a separator and `path`, from `basis`, then splitmix64's finaliser so that
// every input bit reaches every output bit.
uint64_t Hash64(std::string_view seed, std::string_view path, uint64_t basis) {
  uint64_t h = basis;
  auto add = [&h](unsigned char c) { h = (h ^ c) * 0x100000001b3ULL; };
  for (char c : seed) add(static_cast<unsigned char>(c));
  add(0xff);  // no byte of UTF-8 text: "ab"+"c" and "a"+"bc" differ
  for (char c : path) add(static_cast<unsigned char>(c));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

std::string DerivedHexId(std::string_view seed, std::string_view path) {
  static constexpr char kHex[] = "0123456789abcdef";
  const uint64_t halves[2] = {Hash64(seed, path, 0xcbf29ce484222325ULL),
                              Hash64(seed, path, 0x84222325cbf29ce4ULL)};
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = halves[half];
    for (int i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[bits & 0xf];
      bits >>= 4;
    }
  }
  return id;
}

}  // namespace shoal

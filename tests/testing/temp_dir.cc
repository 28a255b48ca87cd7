// TempDir: mkdtemp under the system temp directory, removed recursively at destruction.
#include "tests/testing/temp_dir.h"

#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <system_error>
#include <thread>

namespace shoal::testing {

TempDir::TempDir(std::string_view prefix) {
  std::error_code error;
  std::filesystem::path base = std::filesystem::temp_directory_path(error);
  if (error) base = "/tmp";
  std::string pattern = (base / ("shoal-" + std::string(prefix) + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "TempDir: cannot create %s: %s\n", pattern.c_str(), std::strerror(errno));
    std::abort();
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;  // a test that failed half-way may leave anything; best effort
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path TempDir::Subdir(std::string_view name) const {
  std::filesystem::path dir = path_ / name;
  std::error_code ignored;  // a failure shows when the test uses the directory
  std::filesystem::create_directories(dir, ignored);
  return dir;
}

std::filesystem::path TempDir::Write(std::string_view name, std::string_view text) const {
  std::filesystem::path file = path_ / name;
  std::error_code ignored;  // a failure shows when the test reads the file
  std::filesystem::create_directories(file.parent_path(), ignored);
  std::ofstream(file) << text;
  return file;
}

bool RemoveTree(const std::filesystem::path& dir) {
  std::error_code error;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::filesystem::remove_all(dir, error);
    if (!error && !std::filesystem::exists(dir)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::cerr << "cannot remove " << dir << ": " << error.message() << "\n";
  return false;
}

}  // namespace shoal::testing

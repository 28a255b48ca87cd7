// A temporary directory per test and process: unique (mkdtemp), removed with its contents when
// the TempDir goes away, so that concurrent runs of the same test never share files.
#ifndef SHOAL_TESTS_TESTING_TEMP_DIR_H_
#define SHOAL_TESTS_TESTING_TEMP_DIR_H_

#include <filesystem>
#include <string>
#include <string_view>

namespace shoal::testing {

class TempDir {
 public:
  // Creates <system temp dir>/shoal-<prefix>-XXXXXX. Aborts the test binary (with the reason
  // on stderr) when no directory can be made: no test can run without one.
  explicit TempDir(std::string_view prefix = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  // path() / name, as text.
  std::string operator/(std::string_view name) const { return (path_ / name).string(); }
  // Creates the subdirectory `name` (and its parents) and returns its path.
  std::filesystem::path Subdir(std::string_view name) const;
  // Writes `text` to the file `name` (creating its folders) and returns its path.
  std::filesystem::path Write(std::string_view name, std::string_view text) const;

 private:
  std::filesystem::path path_;
};

// Removes the folder `dir` and everything in it while a live process may still write there (a
// replica renaming a snapshot): an entry that vanishes or appears mid-way makes it try again,
// up to a second. False (with the last error on stderr) when it could not.
bool RemoveTree(const std::filesystem::path& dir);

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TESTING_TEMP_DIR_H_

// A shared-library Executor for the rolling update tests: it answers with the version it was
// configured with, and can refuse to start as one replica, so that an update fails part-way.
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "shoal/doc.h"
#include "shoal/executor.h"
#include "shoal/params.h"

namespace shoal_testing {

// Every endpoint sets each document's text field `version` to `uses_with.version` and
// `served_by` to the replica's name. With `uses_with.fail_on` = "rep-1", the replica named
// `.../rep-1` fails to start (its constructor's error). Thread-compatible.
class Versioned : public shoal::Executor {
 public:
  static shoal::StatusOr<std::unique_ptr<Versioned>> Create(const shoal::Config& with) {
    const std::string fail_on = with.Get("fail_on", "");
    const char* name = std::getenv("JINA_DEPLOYMENT_NAME");
    const std::string_view replica = name == nullptr ? "" : name;
    if (!fail_on.empty() && replica.size() >= fail_on.size() &&
        replica.substr(replica.size() - fail_on.size()) == fail_on) {
      return absl::FailedPreconditionError("Versioned: refusing to start as " +
                                           std::string(replica) + " (uses_with.fail_on)");
    }
    return std::make_unique<Versioned>(with.Get("version", ""));
  }
  explicit Versioned(std::string version) : version_(std::move(version)) {}

  static void Register(shoal::Endpoints<Versioned>& e) {
    e.On(std::string(shoal::kDefaultEndpoint), &Versioned::Answer);
  }

  shoal::Status Answer(shoal::DocList& docs, const shoal::Params& params) {
    for (shoal::Doc doc : docs) {
      doc.SetText("version", version_);
      doc.SetText("served_by", runtime_name());
    }
    return shoal::Status();
  }

 private:
  const std::string version_;
};

SHOAL_EXECUTOR(Versioned);

}  // namespace shoal_testing

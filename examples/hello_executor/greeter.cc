// An Executor built as a shared library against Shoal's public headers only:
// `shoal executor --uses path/libhello_executor.so` loads it and serves `/hello`.
#include <string>

#include "shoal/doc.h"
#include "shoal/executor.h"
#include "shoal/params.h"

namespace hello {

// Prefixes each document's text with a greeting (`uses_with: {greeting: ...}`, default "hello").
// Thread-compatible, as every Executor: Shoal calls its endpoints one at a time.
class Greeter : public shoal::Executor {
 public:
  explicit Greeter(const shoal::Config& with) : greeting_(with.Get("greeting", "hello")) {}

  static void Register(shoal::Endpoints<Greeter>& e) { e.On("/hello", &Greeter::Hello); }

  shoal::Status Hello(shoal::DocList& docs, const shoal::Params& params) {
    for (shoal::Doc doc : docs) {
      doc.set_text(greeting_ + " " + std::string(doc.text()));
    }
    return shoal::Status();
  }

 private:
  const std::string greeting_;
};

SHOAL_EXECUTOR(Greeter);

}  // namespace hello

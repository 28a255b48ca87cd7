// A test-only Executor library for loader_test: two classes (`uses: lib.so` is then ambiguous),
// none at all when built with SHOAL_LOADER_TEST_NO_CLASSES, or, with SHOAL_LOADER_TEST_CLASH, one
// class named like one of the two (a name that is already taken).
#include "shoal/executor.h"

#if defined(SHOAL_LOADER_TEST_CLASH)

namespace loader_test_clash {

class PluginAlpha : public shoal::Executor {
 public:
  static void Register(shoal::Endpoints<PluginAlpha>& e) { e.On("/other", &PluginAlpha::Run); }
  shoal::Status Run(shoal::DocList& docs, const shoal::Params& params) { return shoal::Status(); }
};
SHOAL_EXECUTOR(PluginAlpha);

}  // namespace loader_test_clash

#else

namespace loader_test {

#ifndef SHOAL_LOADER_TEST_NO_CLASSES

class PluginAlpha : public shoal::Executor {
 public:
  static void Register(shoal::Endpoints<PluginAlpha>& e) { e.On("/alpha", &PluginAlpha::Run); }
  shoal::Status Run(shoal::DocList& docs, const shoal::Params& params) { return shoal::Status(); }
};
SHOAL_EXECUTOR(PluginAlpha);

class PluginBeta : public shoal::Executor {
 public:
  static void Register(shoal::Endpoints<PluginBeta>& e) { e.On("/beta", &PluginBeta::Run); }
  shoal::Status Run(shoal::DocList& docs, const shoal::Params& params) { return shoal::Status(); }
};
SHOAL_EXECUTOR(PluginBeta);

#else

int EmptyPluginMarker() { return 0; }

#endif

}  // namespace loader_test

#endif

// Executor parameters from JSON text, for tests that build `uses_with` or request parameters.
#ifndef SHOAL_TESTS_TESTING_PARAMS_H_
#define SHOAL_TESTS_TESTING_PARAMS_H_

#include <optional>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "shoal/params.h"

namespace shoal::testing {

// The parameters `json` (an object) holds; a test failure naming the text and the parse error
// when it is not valid, and then empty parameters.
inline Params ParamsJson(std::string_view json) {
  std::string error;
  std::optional<Params> params = Params::FromJson(json, &error);
  EXPECT_TRUE(params.has_value()) << json << ": " << error;
  return params.value_or(Params());
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TESTING_PARAMS_H_

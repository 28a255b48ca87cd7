// gMock matchers and helpers for absl::Status / StatusOr and grpc::Status:
//   EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key 'x'")));
//   EXPECT_THAT(Message(status), HasSubstr("..."));
#ifndef SHOAL_TESTS_TESTING_STATUS_MATCHERS_H_
#define SHOAL_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"

namespace shoal::testing {

// The message of a status, as a std::string (for HasSubstr and friends).
inline std::string Message(const absl::Status& status) { return std::string(status.message()); }
template <typename T>
std::string Message(const absl::StatusOr<T>& status_or) {
  return Message(status_or.status());
}

namespace internal {

inline const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}
inline absl::Status StatusOf(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace internal

// Matches an absl::Status, an absl::StatusOr or a grpc::Status whose code is `code` and whose
// message matches `message` (a string is an exact match; use HasSubstr for a part).
MATCHER_P2(StatusIs, code, message,
           absl::StrCat("has code ", absl::StatusCodeToString(code), " and a message that ",
                        ::testing::DescribeMatcher<std::string>(message, negation))) {
  absl::Status status = internal::StatusOf(arg);
  *result_listener << "the status is " << status;
  return status.code() == code && ::testing::Matches(::testing::Matcher<std::string>(message))(
                                      std::string(status.message()));
}

// Matches an OK absl::Status, absl::StatusOr or grpc::Status.
MATCHER(IsOk, "is OK") {
  absl::Status status = internal::StatusOf(arg);
  *result_listener << "the status is " << status;
  return status.ok();
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TESTING_STATUS_MATCHERS_H_

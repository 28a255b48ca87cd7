// An Executor error that carries an exception as Jina reports it (class name, arguments, stack),
// for Executors in languages with exceptions (Python). The runtime answers it with Jina's error
// shape; any other error Status is reported by its code.
#ifndef SHOAL_EXECUTOR_EXCEPTION_H_
#define SHOAL_EXECUTOR_EXCEPTION_H_

#include <optional>
#include <string>
#include <vector>

#include "shoal/status.h"

namespace shoal::executor {

struct ExceptionInfo {
  std::string name;                 // the exception's class name, e.g. "ValueError"
  std::vector<std::string> args;    // its arguments as text
  std::vector<std::string> stacks;  // the traceback, line by line
  std::string description;          // e.g. "ValueError('bad')"
};

// An Unknown error whose message is the description, carrying `info`.
Status ExceptionStatus(const ExceptionInfo& info);
// The exception `status` carries; nullopt for other errors.
std::optional<ExceptionInfo> ExceptionOf(const Status& status);

}  // namespace shoal::executor

#endif  // SHOAL_EXECUTOR_EXCEPTION_H_

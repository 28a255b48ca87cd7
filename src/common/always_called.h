// A callback that is called exactly once: by its holder, or, if the holder is destroyed without
// calling it (a task dropped by a stopped TaskThread), with what `if_dropped()` returns.
#ifndef SHOAL_COMMON_ALWAYS_CALLED_H_
#define SHOAL_COMMON_ALWAYS_CALLED_H_

#include <utility>

#include "absl/functional/any_invocable.h"

namespace shoal {

// Move-only. `Arg` is what the callback takes; `if_dropped` makes what it gets when never
// called (a function, so that nothing is built unless it is needed).
template <typename Arg>
class AlwaysCalled {
 public:
  AlwaysCalled(absl::AnyInvocable<void(Arg)> callback, Arg (*if_dropped)())
      : callback_(std::move(callback)), if_dropped_(if_dropped) {}
  AlwaysCalled(AlwaysCalled&& other) noexcept
      : callback_(std::exchange(other.callback_, nullptr)), if_dropped_(other.if_dropped_) {}
  AlwaysCalled& operator=(AlwaysCalled&&) = delete;
  AlwaysCalled(const AlwaysCalled&) = delete;
  ~AlwaysCalled() {
    if (callback_ != nullptr) Call(if_dropped_());
  }

  // Calls the callback (at most once; later calls do nothing).
  void operator()(Arg arg) { Call(std::move(arg)); }

 private:
  void Call(Arg arg) {
    absl::AnyInvocable<void(Arg)> callback = std::exchange(callback_, nullptr);
    if (callback != nullptr) callback(std::move(arg));
  }

  absl::AnyInvocable<void(Arg)> callback_;
  Arg (*if_dropped_)();
};

}  // namespace shoal

#endif  // SHOAL_COMMON_ALWAYS_CALLED_H_

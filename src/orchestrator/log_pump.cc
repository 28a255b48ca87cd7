// LogPump: one poll() loop over every child's pipes, woken by a self-pipe.
#include "src/orchestrator/log_pump.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/common/log.h"
#include "src/common/strings.h"

namespace shoal::orchestrator {
namespace {

constexpr std::string_view kReadyPrefix = "ready port=";
// Reads per stream when Stop() drains what the pipes still hold; bounds it against a child
// that keeps writing.
constexpr int kFinalDrainReads = 16;

void WriteLineToStderr(std::string_view line) {
  std::string text = absl::StrCat(AsAbsl(line), "\n");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(STDERR_FILENO, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::optional<int> ParseReadyLine(std::string_view line) {
  if (line.substr(0, kReadyPrefix.size()) != kReadyPrefix) return std::nullopt;
  std::string_view digits = line.substr(kReadyPrefix.size());
  while (!digits.empty() && std::isspace(static_cast<unsigned char>(digits.back()))) {
    digits.remove_suffix(1);
  }
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int port = 0;
  if (!absl::SimpleAtoi(AsAbsl(digits), &port) || port < 1 || port > 65535) return std::nullopt;
  return port;
}

LogPump::LogPump(Sink sink, Callbacks callbacks)
    : sink_(sink ? std::move(sink) : Sink(WriteLineToStderr)), callbacks_(std::move(callbacks)) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_read_.reset(fds[0]);
    wake_write_.reset(fds[1]);
  } else {
    SHOAL_LOG_WARNING("log pump: no wake pipe (%s); polling every 50 ms", strerror(errno));
  }
  thread_ = std::thread([this] { Run(); });
}

LogPump::~LogPump() { Stop(); }

void LogPump::Add(uint64_t id, std::string prefix, UniqueFd stdout_fd, UniqueFd stderr_fd) {
  Pending pending{id, Child{std::move(prefix), {}}};
  pending.child.streams[0].fd = std::move(stdout_fd);
  pending.child.streams[0].is_stdout = true;
  pending.child.streams[1].fd = std::move(stderr_fd);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    tails_[id];
    pending_.push_back(std::move(pending));
  }
  Wake();
}

std::vector<std::string> LogPump::Tail(uint64_t id) const {
  absl::MutexLock lock(&mu_);
  auto it = tails_.find(id);
  if (it == tails_.end()) return {};
  return std::vector<std::string>(it->second.begin(), it->second.end());
}

void LogPump::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  absl::MutexLock lock(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

void LogPump::Wake() {
  if (!wake_write_.valid()) return;
  char byte = 1;
  // EAGAIN means the pipe is full, so the thread is woken already.
  while (write(wake_write_.get(), &byte, 1) < 0 && errno == EINTR) {
  }
}

void LogPump::TakePending(bool& stop) {
  std::vector<Pending> pending;
  {
    absl::MutexLock lock(&mu_);
    pending.swap(pending_);
    stop = stopping_;
  }
  for (Pending& p : pending) children_.emplace(p.id, std::move(p.child));
}

void LogPump::Run() {
  pthread_setname_np(pthread_self(), "shoal-log-pump");
  std::vector<pollfd> fds;
  std::vector<std::pair<uint64_t, int>> owners;  // (child id, stream index) of fds[i + 1]
  bool stop = false;
  while (true) {
    TakePending(stop);
    if (stop) break;
    fds.assign(1, pollfd{wake_read_.get(), POLLIN, 0});
    owners.clear();
    for (auto& [id, child] : children_) {
      for (int s = 0; s < 2; ++s) {
        if (!child.streams[s].fd.valid()) continue;
        fds.push_back(pollfd{child.streams[s].fd.get(), POLLIN, 0});
        owners.emplace_back(id, s);
      }
    }
    int ready = poll(fds.data(), fds.size(), wake_read_.valid() ? -1 : 50);
    if (ready < 0) {
      if (errno != EINTR) SHOAL_LOG_ERROR("log pump: poll: %s", strerror(errno));
      continue;
    }
    if (fds[0].revents != 0) {
      char buffer[64];
      while (read(wake_read_.get(), buffer, sizeof(buffer)) > 0) {
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto it = children_.find(owners[i - 1].first);
      Stream& stream = it->second.streams[owners[i - 1].second];
      if (ReadStream(it->first, it->second, stream)) continue;
      if (!stream.partial.empty()) EmitLine(it->first, it->second, stream, stream.partial);
      stream.partial.clear();
      stream.fd.reset();
      if (!it->second.streams[0].fd.valid() && !it->second.streams[1].fd.valid()) {
        FinishChild(it->first, it->second);
        children_.erase(it);
      }
    }
  }
  // Stopping: print what the pipes already hold, then close them.
  for (auto& [id, child] : children_) {
    for (Stream& stream : child.streams) {
      for (int i = 0; i < kFinalDrainReads && stream.fd.valid(); ++i) {
        if (!ReadStream(id, child, stream)) break;
      }
      if (!stream.partial.empty()) EmitLine(id, child, stream, stream.partial);
      stream.fd.reset();
    }
  }
  children_.clear();
  absl::MutexLock lock(&mu_);
  tails_.clear();
}

bool LogPump::ReadStream(uint64_t id, Child& child, Stream& stream) {
  char buffer[kMaxLine];
  ssize_t n = read(stream.fd.get(), buffer, sizeof(buffer));
  if (n < 0) return errno == EINTR;  // EAGAIN too: nothing more for now
  if (n == 0) return false;
  std::string& text = stream.partial;
  text.append(buffer, static_cast<size_t>(n));
  size_t start = 0;
  while (start < text.size()) {
    size_t newline = text.find('\n', start);
    size_t length = newline == std::string::npos ? text.size() - start : newline - start;
    if (length >= kMaxLine) {
      EmitLine(id, child, stream, std::string_view(text).substr(start, kMaxLine));
      start += kMaxLine;
      continue;
    }
    if (newline == std::string::npos) break;
    EmitLine(id, child, stream, std::string_view(text).substr(start, length));
    start = newline + 1;
  }
  text.erase(0, start);
  return true;
}

void LogPump::EmitLine(uint64_t id, const Child& child, const Stream& stream,
                       std::string_view line) {
  if (stream.is_stdout) {
    if (std::optional<int> port = ParseReadyLine(line); port.has_value()) {
      if (callbacks_.on_ready) callbacks_.on_ready(id, *port);
      return;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = tails_.find(id);
    if (it != tails_.end()) {
      it->second.emplace_back(line.substr(0, kMaxTailLine));
      if (it->second.size() > kTailLines) it->second.pop_front();
    }
  }
  sink_(absl::StrCat(child.prefix, " ", AsAbsl(line)));
}

void LogPump::FinishChild(uint64_t id, Child& child) {
  std::vector<std::string> tail;
  {
    absl::MutexLock lock(&mu_);
    auto it = tails_.find(id);
    if (it != tails_.end()) {
      tail.assign(std::make_move_iterator(it->second.begin()),
                  std::make_move_iterator(it->second.end()));
      tails_.erase(it);
    }
  }
  if (callbacks_.on_eof) callbacks_.on_eof(id, std::move(tail));
}

}  // namespace shoal::orchestrator

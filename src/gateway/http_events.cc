#include "src/gateway/http_events.h"

#include <cctype>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"
#include "src/gateway/http_json.h"

namespace shoal::gateway {

void SseSink::Send(grpc::ByteBuffer message) {
  jina::SingleDocumentRequestProto parsed;
  grpc::Slice slice;
  StatusOr<std::string> event =
      message.DumpToSingleSlice(&slice).ok() &&
              parsed.ParseFromArray(slice.begin(), static_cast<int>(slice.size()))
          ? StreamEvent(parsed)
          : StatusOr<std::string>(absl::InternalError("a stream message is unreadable"));
  if (!event.ok()) {
    Error(AsStd(event.status().message()));
    return;
  }
  unsent_->fetch_add(1);
  post_(*std::move(event), false, true);
}

void SseSink::Finish(grpc::Status status) {
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    Error(status.error_message());
  }
  post_("event: end\ndata: {}\n\n", true, false);
}

void SseSink::Error(std::string_view message) {
  post_(absl::StrCat("event: error\ndata: ", ErrorJson(message), "\n\n"), false, false);
}

std::string QueryAsJson(std::string_view query) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  auto decode = [&](std::string_view in) {
    std::string out;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '+') {
        out += ' ';
      } else if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) && hex(in[i + 2])) {
        out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += in[i];
      }
    }
    return out;
  };
  std::string json = "{";
  for (std::string_view rest = query; !rest.empty();) {
    std::string_view pair = rest.substr(0, rest.find('&'));
    rest = pair.size() < rest.size() ? rest.substr(pair.size() + 1) : std::string_view();
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string key = decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    if (json.size() > 1) json += ',';
    json += absl::StrCat(JsonString(key), ":", JsonString(value));
  }
  return json + "}";
}

bool Streamed(const Gateway& gateway, std::string_view endpoint) {
  for (size_t n = 0; n < gateway.size(); ++n) {
    if (gateway.Streams(n, std::string(endpoint))) return true;
  }
  return false;
}

}  // namespace shoal::gateway

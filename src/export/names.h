// Kubernetes and docker-compose names from Jina names: Deployment names may hold '_' and capitals,
// object names must be DNS-1123 labels. Also the JSON and text helpers both exporters share.
#ifndef SHOAL_EXPORT_NAMES_H_
#define SHOAL_EXPORT_NAMES_H_

#include <map>
#include <string>
#include <string_view>

#include "google/protobuf/struct.pb.h"
#include "shoal/status.h"

namespace shoal::exporter {

// The longest DNS-1123 label (Service names, pod host names).
inline constexpr size_t kMaxLabelLength = 63;

// True for a DNS-1123 label: 1 to 63 of [a-z0-9-], starting and ending with [a-z0-9].
bool IsDnsLabel(std::string_view name);

// `name` lower-cased with '_' and '.' turned into '-' ("My_Enc" -> "my-enc"). InvalidArgument
// naming `what` ("Deployment 'my_enc'") when the result is still no DNS-1123 label, or would be
// longer than `max_length` once the exporter adds its suffixes.
StatusOr<std::string> DnsLabelFor(std::string_view name, std::string_view what,
                                  size_t max_length = kMaxLabelLength);

// Reserves `name` for an object of the export; AlreadyExists naming both owners when two Jina
// names became the same object name ("my_enc" and "my-enc").
class NameRegistry {
 public:
  Status Claim(const std::string& name, std::string_view owner);

 private:
  std::map<std::string, std::string> owners_;
};

// A protobuf Struct as compact JSON with keys sorted, so that exports are byte-for-byte stable;
// whole numbers print without a fraction (300, not 300.0).
std::string StructToJson(const google::protobuf::Struct& value);
std::string ValueToJson(const google::protobuf::Value& value);
// A JSON string literal, quoted and escaped.
std::string JsonString(std::string_view text);

}  // namespace shoal::exporter

#endif  // SHOAL_EXPORT_NAMES_H_

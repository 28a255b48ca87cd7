// The exporters' YAML writer: block style, two-space indentation, lists indented under their key
// (as kubectl prints them), multi-line strings as literal blocks.
#include "src/export/yaml_writer.h"

#include <algorithm>
#include <cstdio>

namespace shoal::exporter {
namespace {

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// Characters a plain scalar may hold here: a deliberately small set, so that nothing in it can
// start a comment, an alias, a tag, a flow collection or a `key: value` pair.
bool IsPlainChar(char c) {
  if (IsAsciiAlpha(c) || IsAsciiDigit(c)) return true;
  constexpr std::string_view kSafe = "_-./:=@$(),+";
  return kSafe.find(c) != std::string_view::npos;
}

// Words YAML 1.1 (PyYAML, docker-compose) or 1.2 (js-yaml, kubectl) reads as bool or null.
bool IsReservedWord(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  constexpr std::string_view kWords[] = {"true", "false", "yes", "no",   "y",
                                         "n",    "on",    "off", "null", "~"};
  return std::find(std::begin(kWords), std::end(kWords), lower) != std::end(kWords);
}

bool CanBePlain(std::string_view text) {
  if (text.empty()) return false;
  // A letter, '_', '/', '$' or '(' first: no number, no indicator ('.', '*', '&', ...). A '-'
  // first only before '-' or a letter ("--port"): "-" and "- x" are list items, "-1" a number.
  const char first = text.front();
  const bool option = first == '-' && text.size() > 1 && (text[1] == '-' || IsAsciiAlpha(text[1]));
  if (!IsAsciiAlpha(first) && first != '_' && first != '/' && first != '$' && first != '(' &&
      !option) {
    return false;
  }
  if (!std::all_of(text.begin(), text.end(), IsPlainChar)) return false;
  if (text.back() == ':' || text.starts_with("---")) return false;
  return !IsReservedWord(text);
}

bool IsPrintable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f;
  });
}

std::string DoubleQuoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", u);
      out += escaped;
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// A literal block keeps multi-line text readable (the Flow YAML in a ConfigMap). It cannot hold
// control characters, a first line that starts with a space, or several trailing newlines.
bool CanBeLiteral(std::string_view text) {
  if (text.find('\n') == std::string_view::npos || text.front() == ' ' || text.front() == '\n') {
    return false;
  }
  if (text.ends_with("\n\n")) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == '\n' || (u >= 0x20 && u != 0x7f);
  });
}

}  // namespace

std::string QuoteYamlString(std::string_view text) {
  if (CanBePlain(text)) return std::string(text);
  if (IsPrintable(text)) {
    std::string out = "'";
    for (char c : text) {
      if (c == '\'') out.push_back('\'');
      out.push_back(c);
    }
    out.push_back('\'');
    return out;
  }
  return DoubleQuoted(text);
}

YamlNode YamlNode::StringList(const std::vector<std::string>& items) {
  YamlNode list = EmptyList();
  for (const std::string& item : items) list.Add(item);
  return list;
}

YamlNode& YamlNode::Set(std::string_view key, YamlNode value) {
  Map& map = std::get<Map>(value_);
  for (auto& [existing, old] : map) {
    if (existing == key) {
      old = std::move(value);
      return *this;
    }
  }
  map.emplace_back(std::string(key), std::move(value));
  return *this;
}

YamlNode& YamlNode::Add(YamlNode value) {
  std::get<List>(value_).push_back(std::move(value));
  return *this;
}

bool YamlNode::empty_collection() const {
  if (const Map* map = std::get_if<Map>(&value_)) return map->empty();
  if (const List* list = std::get_if<List>(&value_)) return list->empty();
  return false;
}

std::string YamlNode::Emit() const {
  std::string out;
  if (empty_collection()) return is_map() ? "{}\n" : "[]\n";
  if (is_map() || is_list()) {
    EmitTo(out, 0);
  } else {
    EmitScalar(out, 0);
    out.push_back('\n');
  }
  return out;
}

// A scalar after "key:" or "- " (the caller wrote that prefix); `indent` is the prefix's column,
// where the lines of a literal block are indented from.
void YamlNode::EmitScalar(std::string& out, int indent) const {
  if (const auto* text = std::get_if<std::string>(&value_)) {
    if (!CanBeLiteral(*text)) {
      out += QuoteYamlString(*text);
      return;
    }
    out += text->ends_with('\n') ? "|" : "|-";
    std::string_view rest = *text;
    while (!rest.empty()) {
      size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      out.push_back('\n');
      if (!line.empty()) out += std::string(indent + 2, ' ');
      out += line;
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    }
  } else if (const auto* number = std::get_if<int64_t>(&value_)) {
    out += std::to_string(*number);
  } else if (const auto* flag = std::get_if<bool>(&value_)) {
    out += *flag ? "true" : "false";
  }
}

// A collection, each line starting at column `indent`.
void YamlNode::EmitTo(std::string& out, int indent) const {
  const std::string pad(indent, ' ');
  auto emit_value = [&](const YamlNode& value, int column) {
    if (value.empty_collection()) {
      out += value.is_map() ? " {}\n" : " []\n";
    } else if (value.is_map() || value.is_list()) {
      out.push_back('\n');
      value.EmitTo(out, column + 2);
    } else {
      out.push_back(' ');
      value.EmitScalar(out, column);
      out.push_back('\n');
    }
  };
  if (const Map* map = std::get_if<Map>(&value_)) {
    for (const auto& [key, value] : *map) {
      out += pad + QuoteYamlString(key) + ":";
      emit_value(value, indent);
    }
    return;
  }
  for (const YamlNode& item : std::get<List>(value_)) {
    if (item.is_map() && !item.empty_collection()) {
      // "- " then the map's first key on the same line, its other keys under it.
      std::string nested;
      item.EmitTo(nested, indent + 2);
      out += pad + "- " + nested.substr(indent + 2);
      continue;
    }
    out += pad + "-";
    emit_value(item, indent);
  }
}

}  // namespace shoal::exporter

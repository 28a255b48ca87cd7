// Tests of Executor loading: registered classes, shared libraries (the hello_executor example and
// test-only plugins), Executor YAML files and inline YAML, and how uses_with overrides `with:`.
#include "src/executor/loader.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "docarray.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/executor/request_state.h"
#include "tests/testing/params.h"
#include "tests/testing/status_matchers.h"

namespace shoal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Keeps the Config it was built with, to show what the loader passed.
class ConfigProbe : public Executor {
 public:
  explicit ConfigProbe(const Config& with) : with_(with) {}
  static void Register(Endpoints<ConfigProbe>& e) {
    e.On("/probe", &ConfigProbe::Probe).Write();
    e.On("/default", &ConfigProbe::Probe);
  }
  Status Probe(DocList& docs, const Params& params) { return Status(); }
  const Config& with() const { return with_; }

 private:
  Config with_;
};
SHOAL_EXECUTOR(ConfigProbe);

// A class whose construction fails.
class RefusesToStart : public Executor {
 public:
  static StatusOr<std::unique_ptr<RefusesToStart>> Create(const Config& with) {
    return absl::FailedPreconditionError("model file missing");
  }
  static void Register(Endpoints<RefusesToStart>& e) {}
};
SHOAL_EXECUTOR(RefusesToStart);

// A streaming endpoint marked as a write, which cannot be.
class WritingStream : public Executor {
 public:
  static void Register(Endpoints<WritingStream>& e) {
    e.OnStream("/gen", &WritingStream::Gen).Write();
  }
  Status Gen(const Doc& in, const Params& params, DocWriter& out) { return Status(); }
};
SHOAL_EXECUTOR(WritingStream);

using ::shoal::testing::Message;

using ::shoal::testing::ParamsJson;

std::vector<std::string> EndpointNames(const executor::ExecutorClass& cls) {
  std::vector<std::string> names;
  for (const internal::EndpointEntry& entry : cls.endpoints.entries) names.push_back(entry.name);
  return names;
}

// Writes `text` to a file in the test's temporary directory and returns its path.
std::filesystem::path WriteTemp(const std::string& name, const std::string& text) {
  std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / name;
  std::ofstream out(path);
  out << text;
  return path;
}

const ConfigProbe& AsProbe(const executor::LoadedExecutor& loaded) {
  EXPECT_EQ(loaded.cls->name, "ConfigProbe");
  return static_cast<const ConfigProbe&>(*loaded.instance);
}

// Calls endpoint `name` of `loaded` on one doc with `text`; returns the doc's text afterwards.
std::string CallOnText(executor::LoadedExecutor& loaded, std::string_view name,
                       std::string_view text) {
  docarray::DocListProto proto;
  internal::RequestState state;
  state.docs = DocList(&proto);
  state.docs.Add().set_text(text);
  state.endpoint = name;
  Request request(&state);
  for (const internal::EndpointEntry& entry : loaded.cls->endpoints.entries) {
    if (entry.name != name) continue;
    Status status = entry.fn(*loaded.instance, request);
    EXPECT_TRUE(status.ok()) << status;
    return std::string(state.docs[0].text());
  }
  ADD_FAILURE() << "no endpoint " << name;
  return "";
}

TEST(LoaderTest, RegisteredClass) {
  absl::StatusOr<executor::LoadedExecutor> loaded =
      executor::LoadExecutor("ConfigProbe", ParamsJson(R"({"k": "v"})"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_NE(loaded->instance, nullptr);
  EXPECT_THAT(EndpointNames(*loaded->cls), ElementsAre("/probe", "/default"));
  EXPECT_TRUE(loaded->cls->endpoints.entries[0].write);
  EXPECT_EQ(AsProbe(*loaded).with().Get("k", ""), "v");
}

TEST(LoaderTest, ConfigOutlivesTheCallersUsesWith) {
  absl::StatusOr<executor::LoadedExecutor> loaded;
  {
    google::protobuf::Struct uses_with;
    (*uses_with.mutable_fields())["k"].set_string_value("kept");
    loaded = executor::LoadExecutor("ConfigProbe", Params(&uses_with));
  }
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(AsProbe(*loaded).with().Get("k", ""), "kept");
}

TEST(LoaderTest, UnknownClassListsRegisteredOnes) {
  absl::Status status = executor::LoadExecutor("NoSuchExecutor", Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(status), HasSubstr("unknown Executor 'NoSuchExecutor'; registered: "));
  EXPECT_THAT(Message(status), HasSubstr("ConfigProbe"));
  EXPECT_THAT(Message(status), HasSubstr("RefusesToStart"));
}

TEST(LoaderTest, FactoryErrorKeepsItsCodeWithContext) {
  absl::Status status = executor::LoadExecutor("RefusesToStart", Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Message(status), "constructing Executor 'RefusesToStart': model file missing");
}

TEST(LoaderTest, AStreamingEndpointCannotBeAWriteEndpoint) {
  absl::Status status = executor::LoadExecutor("WritingStream", Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(status),
            "Executor 'WritingStream': endpoint '/gen' is both a write endpoint and a streaming "
            "(generator) endpoint; streaming endpoints are reads");
}

TEST(LoaderTest, LibraryWithOneClass) {
  absl::StatusOr<executor::LoadedExecutor> loaded =
      executor::LoadExecutor(HELLO_LIB, ParamsJson(R"({"greeting": "hi"})"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->cls->name, "Greeter");
  EXPECT_THAT(EndpointNames(*loaded->cls), ElementsAre("/hello"));
  EXPECT_EQ(CallOnText(*loaded, "/hello", "world"), "hi world");

  // Opened again: the library is already in the process and still resolves.
  absl::StatusOr<executor::LoadedExecutor> again = executor::LoadExecutor(HELLO_LIB, Params());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->cls, loaded->cls);
  EXPECT_EQ(CallOnText(*again, "/hello", "world"), "hello world");
}

TEST(LoaderTest, LibraryClassSuffixPicks) {
  absl::StatusOr<executor::LoadedExecutor> loaded =
      executor::LoadExecutor(std::string(HELLO_LIB) + ":Greeter", Params());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->cls->name, "Greeter");

  absl::StatusOr<executor::LoadedExecutor> beta =
      executor::LoadExecutor(std::string(PLUGIN_LIB) + ":PluginBeta", Params());
  ASSERT_TRUE(beta.ok()) << beta.status();
  EXPECT_EQ(beta->cls->name, "PluginBeta");
  EXPECT_THAT(EndpointNames(*beta->cls), ElementsAre("/beta"));
}

TEST(LoaderTest, LibraryWithoutTheNamedClass) {
  absl::Status status = executor::LoadExecutor(std::string(HELLO_LIB) + ":Nope", Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(status), HasSubstr("no Executor class 'Nope'; it registers: Greeter"));
}

TEST(LoaderTest, LibraryWithSeveralClassesNeedsOneNamed) {
  absl::Status status = executor::LoadExecutor(PLUGIN_LIB, Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("several Executor classes (PluginAlpha, PluginBeta)"));
}

TEST(LoaderTest, LibraryWithNoClasses) {
  absl::Status status = executor::LoadExecutor(EMPTY_PLUGIN_LIB, Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("registers no Executor class"));
}

TEST(LoaderTest, AClassNamedLikeARegisteredOneIsAnError) {
  ASSERT_TRUE(executor::LoadExecutor(std::string(PLUGIN_LIB) + ":PluginAlpha", Params()).ok());
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second time from the loader's memory
    absl::Status status = executor::LoadExecutor(CLASH_PLUGIN_LIB, Params()).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
    EXPECT_THAT(Message(status), HasSubstr("PluginAlpha"));
    EXPECT_THAT(Message(status), HasSubstr("already the name of another Executor class"));
  }
  // The class that was there first is the one that runs.
  auto alpha = executor::LoadExecutor("PluginAlpha", Params());
  ASSERT_TRUE(alpha.ok()) << alpha.status();
}

TEST(LoaderTest, MissingLibrary) {
  absl::Status status =
      executor::LoadExecutor("/nonexistent/shoal/libmissing.so", Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(status), HasSubstr("/nonexistent/shoal/libmissing.so"));
  EXPECT_THAT(Message(status), HasSubstr("No such file or directory"));
}

TEST(LoaderTest, YamlFileWithUsesWithOverride) {
  std::filesystem::path path = WriteTemp(
      "loader_test_probe.yml",
      "jtype: ConfigProbe\nwith:\n  a: from yaml\n  b: from yaml\nmetas:\n  name: probe\n");
  absl::StatusOr<executor::LoadedExecutor> loaded =
      executor::LoadExecutor(path.string(), ParamsJson(R"({"b": "from uses_with", "c": 3})"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Config& with = AsProbe(*loaded).with();
  EXPECT_EQ(with.Get("a", ""), "from yaml");
  EXPECT_EQ(with.Get("b", ""), "from uses_with");
  EXPECT_EQ(with.Get("c", 0), 3);
  std::filesystem::remove(path);
}

TEST(LoaderTest, InlineYaml) {
  absl::StatusOr<executor::LoadedExecutor> loaded =
      executor::LoadExecutor("jtype: ConfigProbe\nwith:\n  a: inline\n", Params());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(AsProbe(*loaded).with().Get("a", ""), "inline");
}

TEST(LoaderTest, YamlNamingALibraryClass) {
  std::filesystem::path path =
      WriteTemp("loader_test_greeter.yml",
                std::string("jtype: ") + HELLO_LIB + ":Greeter\nwith:\n  greeting: howdy\n");
  absl::StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor(path.string(), Params());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(CallOnText(*loaded, "/hello", "partner"), "howdy partner");
  std::filesystem::remove(path);
}

TEST(LoaderTest, YamlWithUnknownJtype) {
  std::filesystem::path path = WriteTemp("loader_test_unknown.yml", "jtype: Nope\n");
  absl::Status status = executor::LoadExecutor(path.string(), Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(status), HasSubstr(path.string()));
  EXPECT_THAT(Message(status), HasSubstr("unknown Executor 'Nope'; registered: "));
  std::filesystem::remove(path);
}

TEST(LoaderTest, MalformedYamlNamesFileAndLine) {
  std::filesystem::path path =
      WriteTemp("loader_test_bad.yml", "jtype: ConfigProbe\nwith:\n  a: [1, 2\n");
  absl::Status status = executor::LoadExecutor(path.string(), Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr(path.string() + ":"));
  std::filesystem::remove(path);
}

TEST(LoaderTest, MissingYamlFile) {
  absl::Status status = executor::LoadExecutor("/nonexistent/shoal/x.yml", Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(status), HasSubstr("/nonexistent/shoal/x.yml"));
}

TEST(LoaderTest, HubReferencesAreUnimplemented) {
  absl::Status status = executor::LoadExecutor("jinaai://jina-ai/Indexer", Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Message(status), "hub executors are not supported: jinaai://jina-ai/Indexer");
}

// Python `uses` go to the installed PythonLoader, which gets what to import and how to build it;
// without one they are Unimplemented.
TEST(LoaderTest, PythonUsesGoToThePythonLoader) {
  absl::Status status = executor::LoadExecutor("x.py:Encoder", Params()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(Message(status), HasSubstr("'x.py:Encoder' is a Python Executor"));
  EXPECT_THAT(Message(status), HasSubstr("SHOAL_PYTHON"));

  std::vector<executor::PythonUses> seen;
  executor::SetPythonLoader(
      [&seen](const executor::PythonUses& uses) -> StatusOr<executor::LoadedExecutor> {
        seen.push_back(uses);
        return absl::FailedPreconditionError("recorded");
      });
  status = executor::LoadExecutor("dir/x.py:Encoder", ParamsJson(R"({"dim": 4})"),
                                  {.name = "enc/rep-1", .workspace = "/ws"})
               .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(executor::LoadExecutor("pkg.mod:Encoder", Params()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  std::filesystem::path yaml =
      WriteTemp("loader_test_python.yml",
                "jtype: Encoder\nwith:\n  dim: 2\n  keep: true\nmetas:\n  name: enc\n"
                "py_modules:\n  - encoder.py\n  - /abs/helpers.py\n");
  EXPECT_EQ(executor::LoadExecutor(yaml.string(), ParamsJson(R"({"dim": 8})")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  executor::SetPythonLoader(nullptr);

  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].uses, "dir/x.py:Encoder");
  EXPECT_THAT(seen[0].modules, ElementsAre("dir/x.py"));
  EXPECT_EQ(seen[0].class_name, "Encoder");
  EXPECT_THAT(seen[0].search_path, ElementsAre("dir"));
  EXPECT_EQ(seen[0].with.fields().at("dim").number_value(), 4);
  EXPECT_EQ(seen[0].context.name, "enc/rep-1");
  EXPECT_EQ(seen[0].context.workspace, "/ws");

  EXPECT_THAT(seen[1].modules, ElementsAre("pkg.mod"));
  EXPECT_TRUE(seen[1].search_path.empty());

  const std::string folder = yaml.parent_path().string();
  EXPECT_THAT(seen[2].modules, ElementsAre(folder + "/encoder.py", "/abs/helpers.py"));
  EXPECT_EQ(seen[2].class_name, "Encoder");
  EXPECT_THAT(seen[2].search_path, ElementsAre(folder));
  EXPECT_EQ(seen[2].with.fields().at("dim").number_value(), 8);  // uses_with wins
  EXPECT_TRUE(seen[2].with.fields().at("keep").bool_value());
  EXPECT_EQ(seen[2].metas_name, "enc");
  std::filesystem::remove(yaml);
}

}  // namespace
}  // namespace shoal

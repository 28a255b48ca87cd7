# Helpers that keep every CMakeLists.txt a few lines: one static library per subsystem, one
# test binary per unit-test file, and the same warnings and sanitizers on every target.

# Applies Shoal's compile options to one target.
function(shoal_target_options target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  # Designated initialisers that leave fields at their defaults are the API style (DESIGN.md).
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter
                                           -Wno-missing-field-initializers)
  # Clang checks the absl::Mutex annotations (GUARDED_BY, REQUIRES, ...); with SHOAL_WERROR a
  # missing lock fails the build.
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(${target} PRIVATE -Wthread-safety)
  endif()
  if(SHOAL_WERROR)
    # -Wrestrict: GCC 12 reports false positives inside libstdc++'s string concatenation at -O3
    # (GCC bug 105329); it stays a warning, not an error.
    target_compile_options(${target} PRIVATE -Werror)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-error=restrict)
    endif()
  endif()
  if(SHOAL_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${SHOAL_SANITIZE} -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    target_link_options(${target} PUBLIC -fsanitize=${SHOAL_SANITIZE})
  endif()
endfunction()

# shoal_cc_library(NAME SRCS a.cc b.cc DEPS lib1 lib2)
function(shoal_cc_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
  shoal_target_options(${name})
endfunction()

# shoal_cc_binary(NAME SRCS main.cc DEPS lib1): an executable whose symbols stay visible to
# Executors loaded with dlopen.
function(shoal_cc_binary name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  set_target_properties(${name} PROPERTIES ENABLE_EXPORTS ON)
  shoal_target_options(${name})
endfunction()

# shoal_cc_test(NAME SRCS x_test.cc DEPS lib LABEL unit|integration|fault)
function(shoal_cc_test name)
  cmake_parse_arguments(ARG "" "LABEL" "SRCS;DEPS" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  set_target_properties(${name} PROPERTIES ENABLE_EXPORTS ON)
  shoal_target_options(${name})
  include(GoogleTest)
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
                       PROPERTIES LABELS ${ARG_LABEL} TIMEOUT 300
                       ENVIRONMENT "SHOAL_BIN=$<TARGET_FILE:shoal>;SHOAL_BUILD_DIR=${PROJECT_BINARY_DIR};SHOAL_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

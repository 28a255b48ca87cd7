#!/usr/bin/env bash
# The export tests that run the `shoal` binary (registered with ctest in tests/export/CMakeLists.txt):
#
#   export_test.sh golden NAME INPUT       shoal export kubernetes + docker-compose of INPUT equal
#                                          tests/golden/NAME/ byte for byte (SHOAL_UPDATE_GOLDEN=1
#                                          rewrites the golden files instead)
#   export_test.sh kubernetes INPUT        every object passes kubernetes-models' validate()
#   export_test.sh compose INPUT           the compose file passes `docker-compose config`
#   export_test.sh negative INPUT          both validators reject broken copies of the export
#   export_test.sh cli-errors              bad input: exit status 2 and a message naming the cause
#
# A missing validator (node with tests/export/node_modules, or docker-compose) skips the test
# (exit 77) with the reason, except under CI (CI=true), where it fails: `scripts/bootstrap`
# installs both.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source_dir="${SHOAL_SOURCE_DIR:-$(cd "$here/../.." && pwd)}"
shoal="${SHOAL_BIN:?SHOAL_BIN must name the shoal binary}"
# The seed's stateful example reads its workspace from the environment; exports mount their own.
export SHOAL_DEMO_WORKSPACE="${SHOAL_DEMO_WORKSPACE:-/tmp/shoal-demo}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

missing() {
  if [ "${CI:-}" = "true" ]; then
    fail "$* (CI must have every validator: run scripts/bootstrap)"
  fi
  echo "SKIP: $* (run scripts/bootstrap to install it)"
  exit 77
}

need_node() {
  command -v node >/dev/null || missing "node is not installed"
  [ -d "$here/node_modules/kubernetes-models" ] ||
    missing "kubernetes-models is not installed in tests/export (npm ci)"
}

need_compose() {
  command -v docker-compose >/dev/null || missing "docker-compose is not installed"
}

export_all() {  # INPUT OUT_DIR: kubernetes/ and docker-compose.yml under OUT_DIR
  "$shoal" export kubernetes "$1" "$2/kubernetes" >/dev/null
  "$shoal" export docker-compose "$1" "$2/docker-compose.yml" >/dev/null
}

validate_k8s() {
  node "$here/validate_k8s.mjs" "$@"
}

validate_compose() {  # FILE; the project directory is the file's, so nothing else is read
  docker-compose --project-directory "$(dirname "$1")" -f "$1" config -q
}

run_golden() {
  local name="$1" input="$2" golden="$source_dir/tests/golden/$1"
  export_all "$input" "$work/$name"
  if [ "${SHOAL_UPDATE_GOLDEN:-}" = "1" ]; then
    rm -rf "$golden"
    mkdir -p "$golden"
    cp -r "$work/$name/." "$golden/"
    echo "updated $golden"
    return
  fi
  if ! diff -ru "$golden" "$work/$name"; then
    fail "the export of $input differs from $golden (if the change is intended: " \
         "SHOAL_UPDATE_GOLDEN=1 ctest --test-dir BUILD -R export_golden, then review git diff)"
  fi
  echo "export of $input matches $golden"
}

run_kubernetes() {
  need_node
  export_all "$1" "$work/out"
  validate_k8s "$work/out/kubernetes/"*.yml
}

run_compose() {
  need_compose
  export_all "$1" "$work/out"
  validate_compose "$work/out/docker-compose.yml"
}

expect_rejected() {  # WHAT COMMAND...: the validator must fail on a broken file
  local what="$1"
  shift
  if "$@" >"$work/log" 2>&1; then
    cat "$work/log"
    fail "the validator accepted $what"
  fi
  echo "rejected as expected: $what: $(tail -n 3 "$work/log" | tr '\n' ' ')"
}

run_negative() {
  need_node
  need_compose
  export_all "$1" "$work/out"
  local k8s="$work/out/kubernetes" broken="$work/broken"
  mkdir -p "$broken"
  validate_k8s "$k8s/"*.yml >/dev/null || fail "the unbroken export is not valid"
  # A replica count that is no integer, a pod without containers, an unknown kind.
  local workload
  workload="$(grep -l '^kind: \(StatefulSet\|Deployment\)' "$k8s/"*.yml | grep -v gateway | head -n 1)"
  sed 's/^  replicas: \([0-9]*\)$/  replicas: "\1x"/' "$workload" >"$broken/replicas.yml"
  grep -q 'replicas: "' "$broken/replicas.yml" || fail "could not break $workload"
  expect_rejected "a string replica count" validate_k8s "$broken/replicas.yml"
  sed 's/^      containers:$/      initContainers:/' "$workload" >"$broken/containers.yml"
  expect_rejected "a pod without containers" validate_k8s "$broken/containers.yml"
  local gateway
  gateway="$(ls "$k8s/"*gateway.yml | head -n 1)"
  sed 's/^kind: Service$/kind: Servise/' "$gateway" >"$broken/kind.yml"
  expect_rejected "an unknown kind" validate_k8s "$broken/kind.yml"
  sed 's/^\(  name: \).*$/\1Not_A_Label/' "$workload" >"$broken/name.yml"
  expect_rejected "a name that is no DNS label" validate_k8s "$broken/name.yml"
  # An unknown service key, and a health check whose retries are no number.
  sed 's/^    healthcheck:$/    healthchek:/' "$work/out/docker-compose.yml" >"$broken/compose-key.yml"
  expect_rejected "an unknown compose key" validate_compose "$broken/compose-key.yml"
  sed 's/^      retries: 3$/      retries: three/' "$work/out/docker-compose.yml" \
    >"$broken/compose-type.yml"
  expect_rejected "a health check retry count that is no number" \
    validate_compose "$broken/compose-type.yml"
}

expect_error() {  # PATTERN ARGS...: `shoal export ARGS` exits 2 with PATTERN on stderr
  local pattern="$1" status=0
  shift
  "$shoal" export "$@" >"$work/out.log" 2>"$work/err.log" || status=$?
  [ "$status" -eq 2 ] || fail "shoal export $* exited $status, expected 2: $(cat "$work/err.log")"
  grep -qF -- "$pattern" "$work/err.log" ||
    fail "shoal export $*: expected '$pattern' in: $(cat "$work/err.log")"
  echo "shoal export $*: $(cat "$work/err.log")"
}

run_cli_errors() {
  expect_error "cannot read '$work/none.yml'" kubernetes "$work/none.yml" "$work/out"
  printf 'jtype: Flow\nexecutors:\n  - {name: _enc, uses: Echo}\n' >"$work/name.yml"
  expect_error "Deployment '_enc': the name '_enc' cannot be" kubernetes "$work/name.yml" "$work/o"
  expect_error "Deployment '_enc'" docker-compose "$work/name.yml" "$work/o.yml"
  printf 'jtype: Flow\nexecutors:\n  - missing/dep.yml\n' >"$work/path.yml"
  expect_error "missing/dep.yml" kubernetes "$work/path.yml" "$work/o"
  printf 'jtype: Echo\nwith: {}\n' >"$work/executor.yml"
  expect_error "jtype 'Echo' cannot be exported" kubernetes "$work/executor.yml" "$work/o"
  printf 'jtype: Flow\nexecutors:\n  - {name: e, uses: Echo, gpus: all}\n' >"$work/gpus.yml"
  expect_error "gpus: Kubernetes needs a number" kubernetes "$work/gpus.yml" "$work/o"
  expect_error "namespace 'Bad_NS'" kubernetes "$source_dir/tests/golden/search_flow.yml" \
    "$work/o" --namespace Bad_NS
  [ ! -e "$work/o" ] || fail "a failed export wrote files"
}

mode="${1:-}"
shift || true
case "$mode" in
  golden) run_golden "$@" ;;
  kubernetes) run_kubernetes "$@" ;;
  compose) run_compose "$@" ;;
  negative) run_negative "$@" ;;
  cli-errors) run_cli_errors ;;
  *) fail "usage: export_test.sh golden NAME INPUT | kubernetes INPUT | compose INPUT | negative INPUT | cli-errors" ;;
esac

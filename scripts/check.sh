#!/usr/bin/env bash
# The test command: sets up everything on a fresh clone and runs every gate, stopping at the first
# failure.  Usage: bash scripts/check.sh
#
#   1. finds Python 3.13 (python3.13 on PATH, else pyenv), creates .venv and installs -e ".[dev]";
#   2. installs aws-sam-cli and checkov each in its own venv under .tools/ (in the project's venv
#      they would downgrade boto3);
#   3. runs: ruff check, ruff format --check, mypy, lint-imports, sam validate (plain and --lint), cfn-lint on the
#      translated template, checkov, sam build, pytest with a coverage floor.
#
# Re-running reuses the venvs while pyproject.toml and the tool pins are unchanged.
# CHECK_KEEP_GOING=1 runs every gate even after a failure; COVERAGE_FLOOR overrides the coverage floor.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SAM_CLI_VERSION="1.170.0"
CHECKOV_VERSION="3.3.30"
COVERAGE_FLOOR="${COVERAGE_FLOOR:-90}"
GATE_TIMEOUT="${GATE_TIMEOUT:-1800}"   # seconds, per gate: CI has 90 minutes for the whole run

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export SAM_CLI_TELEMETRY=0

KEEP_GOING="${CHECK_KEEP_GOING:-0}"   # 1: run every gate and report all failures at the end
SUMMARY=()
FAILED=()
START_ALL=$SECONDS

say() { printf '==> %s\n' "$*"; }

summary() {
    printf '\n---- summary (%ss) ----\n' "$((SECONDS - START_ALL))"
    local line
    for line in "${SUMMARY[@]}"; do printf '%s\n' "$line"; done
}

fail() {
    SUMMARY+=("FAIL  $1")
    summary
    printf '\nFAILED: %s\n' "$1" >&2
    exit 1
}

# run_gate NAME COMMAND...: runs one gate with a time limit; stops everything on failure.
run_gate() {
    local name="$1"
    shift
    say "$name"
    local started=$SECONDS rc=0
    if declare -F "$1" >/dev/null; then
        "$@" || rc=$?
    else
        timeout --foreground "$GATE_TIMEOUT" "$@" || rc=$?
    fi
    if ((rc == 0)); then
        SUMMARY+=("ok    $name ($((SECONDS - started))s)")
    elif [[ "$KEEP_GOING" == 1 ]]; then
        SUMMARY+=("FAIL  $name (exit $rc after $((SECONDS - started))s)")
        FAILED+=("$name")
    else
        fail "$name (exit $rc after $((SECONDS - started))s)"
    fi
}

# quiet_pip LOG PIP ARGS...: pip with its output in a log, shown only when it fails.
quiet_pip() {
    local log="$1"
    shift
    if ! "$@" >"$log" 2>&1; then
        grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -n 40 >&2
        return 1
    fi
}

find_python313() {
    local candidate
    if candidate="$(command -v python3.13 2>/dev/null)" && "$candidate" -c 'import sys' >/dev/null 2>&1; then
        # A pyenv shim answers for every version: resolve it to the real interpreter.
        "$candidate" -c 'import sys; print(sys.executable)'
        return 0
    fi
    if command -v pyenv >/dev/null 2>&1; then
        local root
        root="$(pyenv root)"
        candidate="$(find "$root/versions" -maxdepth 3 -path '*/versions/3.13*/bin/python3.13' 2>/dev/null | sort -V | tail -n 1)"
        if [[ -n "$candidate" ]] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            printf '%s\n' "$candidate"
            return 0
        fi
    fi
    return 1
}

# ensure_venv DIR STAMP PROBE INSTALL...: makes DIR a Python 3.13 venv and installs INSTALL into it
# unless the stamp of the last install matches and PROBE (a module) imports; an existing venv is
# updated in place, not recreated.
ensure_venv() {
    local dir="$1" stamp="$2" probe="$3"
    shift 3
    if ! "$dir/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
        rm -rf "$dir"
        "$PYTHON313" -m venv "$dir" || return 1
    elif [[ "$(cat "$dir/.check-stamp" 2>/dev/null)" == "$stamp" ]] \
        && "$dir/bin/python" -c "import $probe" >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p .tools
    quiet_pip ".tools/pip-$(basename "$dir" | tr -d .).log" "$dir/bin/python" -m pip install "$@" || return 1
    printf '%s' "$stamp" >"$dir/.check-stamp"
}

setup() {
    say "setup: Python 3.13 and virtual environments"
    local started=$SECONDS
    PYTHON313="$(find_python313)" || {
        printf 'Python 3.13 not found: put python3.13 on PATH or install it with pyenv (pyenv install 3.13).\n' >&2
        fail "setup: no Python 3.13"
    }
    say "using $PYTHON313"
    local project_stamp
    project_stamp="$(sha256sum pyproject.toml | cut -c1-64)"
    ensure_venv .venv "$project_stamp" ordersync -e ".[dev]" || fail "setup: pip install -e .[dev]"
    ensure_venv .tools/sam "aws-sam-cli==$SAM_CLI_VERSION" samcli "aws-sam-cli==$SAM_CLI_VERSION" \
        || fail "setup: install aws-sam-cli"
    ensure_venv .tools/checkov "checkov==$CHECKOV_VERSION" checkov "checkov==$CHECKOV_VERSION" \
        || fail "setup: install checkov"
    SUMMARY+=("ok    setup ($((SECONDS - started))s)")
}

sam_build() {
    # sam build looks for the runtime's interpreter (python3.13) on PATH.
    PATH="$(dirname "$PYTHON313"):$PATH" timeout "$GATE_TIMEOUT" .tools/sam/bin/sam build --template-file template.yaml \
        --build-dir .aws-sam/build >.tools/sam-build.log 2>&1 || {
        grep -v "is ignored: it is neither a file nor a directory" .tools/sam-build.log | tail -n 40 >&2
        return 1
    }
}

checkov_scan() {
    # checkov exits 0 when it cannot parse the template (it then scans nothing): treat that as a failure.
    local output rc=0
    output="$(timeout "$GATE_TIMEOUT" .tools/checkov/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact \
        --quiet 2>&1)" || rc=$?
    printf '%s\n' "$output"
    if grep -Eq 'Parsing errors: [1-9]|YAML error' <<<"$output" || ! grep -Eq 'Passed checks: [1-9]' <<<"$output"; then
        printf 'checkov did not scan template.yaml\n' >&2
        return 1
    fi
    return "$rc"
}

setup

VENV="$ROOT/.venv/bin"
run_gate "ruff check" "$VENV/ruff" check .
run_gate "ruff format --check" "$VENV/ruff" format --check .
run_gate "mypy (strict, ordersync and ordersync_tools)" "$VENV/mypy"
run_gate "import layering (lint-imports)" "$VENV/lint-imports"
run_gate "sam validate" .tools/sam/bin/sam validate --template-file template.yaml --region us-east-1
run_gate "sam validate --lint" .tools/sam/bin/sam validate --lint --template-file template.yaml --region us-east-1
run_gate "cfn-lint on the translated template" "$VENV/python" scripts/check_template.py template.yaml
run_gate "checkov" checkov_scan
run_gate "sam build (python3.13)" sam_build
run_gate "pytest (coverage >= ${COVERAGE_FLOOR}%)" "$VENV/pytest" -q -p no:cacheprovider --cov=ordersync --cov=ordersync_tools \
    --cov-report=term --cov-fail-under="$COVERAGE_FLOOR"

summary
if ((${#FAILED[@]} > 0)); then
    printf '\nFAILED: %s\n' "${FAILED[@]}" >&2
    exit 1
fi
printf '\nAll gates passed.\n'

#!/usr/bin/env bash
# The main command: runs the whole application on this machine, no AWS account, no Docker.
# Usage: bash scripts/local.sh [ordersync local options]   (e.g. --speed 10, --once, --json; see --help)
#
# On a fresh clone it finds Python 3.13 (python3.13 on PATH, else pyenv), creates .venv and installs
# ordersync with its "local" extra (moto and the SAM translator); later runs reuse .venv while
# pyproject.toml is unchanged. Then it hands over to `ordersync local`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

find_python313() {
    local candidate
    if candidate="$(command -v python3.13 2>/dev/null)" && "$candidate" -c 'import sys' >/dev/null 2>&1; then
        # A pyenv shim answers for every version: resolve it to the real interpreter.
        "$candidate" -c 'import sys; print(sys.executable)'
        return 0
    fi
    if command -v pyenv >/dev/null 2>&1; then
        candidate="$(find "$(pyenv root)/versions" -maxdepth 3 -path '*/versions/3.13*/bin/python3.13' 2>/dev/null \
            | sort -V | tail -n 1)"
        if [[ -n "$candidate" ]] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            printf '%s\n' "$candidate"
            return 0
        fi
    fi
    return 1
}

stamp="local:$(sha256sum pyproject.toml | cut -c1-64)"
if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
    python313="$(find_python313)" || {
        printf 'Python 3.13 not found: put python3.13 on PATH or install it with pyenv (pyenv install 3.13).\n' >&2
        exit 1
    }
    printf '==> creating .venv with %s\n' "$python313"
    rm -rf .venv
    "$python313" -m venv .venv
fi
if [[ "$(cat .venv/.local-stamp 2>/dev/null)" != "$stamp" ]] \
    || ! .venv/bin/python -c 'import ordersync_tools.local.runtime, moto.server, samtranslator' >/dev/null 2>&1; then
    printf '==> installing ordersync and its local runtime into .venv (quietly; about a minute the first time)\n'
    mkdir -p .ordersync-local
    if ! .venv/bin/python -m pip install -q -e ".[local]" >.ordersync-local/pip.log 2>&1; then
        tail -n 40 .ordersync-local/pip.log >&2
        exit 1
    fi
    printf '%s' "$stamp" >.venv/.local-stamp
fi
exec .venv/bin/ordersync local "$@"

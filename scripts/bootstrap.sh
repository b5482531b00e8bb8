#!/usr/bin/env bash
# Set up everything `make run` or `make test` needs on a fresh Debian machine (run as root, or with sudo).
#   scripts/bootstrap.sh run    Python virtual environment with the project
#   scripts/bootstrap.sh test   the same plus the system packages the test suite drives for real
# Idempotent: it installs only what is missing. It never downloads anything but registry packages.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
VENV="${VENV:-.venv}"

have() { command -v "$1" >/dev/null 2>&1; }
missing=()
need_pkg() { # need_pkg PACKAGE TEST-COMMAND...
  local pkg="$1"; shift
  if ! "$@" >/dev/null 2>&1; then missing+=("$pkg"); fi
}

SUDO=""
if [ "$(id -u)" != 0 ] && have sudo; then SUDO="sudo"; fi

python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=("python3-venv")
need_pkg openssl have openssl
if [ "$mode" = test ]; then
  need_pkg postgresql bash -c 'ls /usr/lib/postgresql/*/bin/initdb'
  need_pkg postgresql-contrib bash -c 'ls /usr/share/postgresql/*/extension/unaccent.control'
  need_pkg curl have curl
  need_pkg isync have mbsync
  need_pkg chromium have chromium
  need_pkg dovecot-imapd bash -c 'ls /usr/sbin/dovecot'
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if ! have apt-get; then
    echo "bootstrap: missing system packages (${missing[*]}) and no apt-get to install them" >&2
    exit 1
  fi
  echo "bootstrap: installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # dovecot's post-install must not start a system daemon that holds port 143; policy-rc.d keeps it down.
  printf '#!/bin/sh\nexit 101\n' > /tmp/mssante-policy-rc.d; chmod +x /tmp/mssante-policy-rc.d
  if [ ! -e /usr/sbin/policy-rc.d ]; then $SUDO cp /tmp/mssante-policy-rc.d /usr/sbin/policy-rc.d; trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT; fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

stamp="$VENV/.installed-$mode"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  if [ "$mode" = test ]; then
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
  else
    "$VENV/bin/python" -m pip install -q -e .
  fi
  touch "$stamp"
fi
echo "bootstrap: ready ($mode)"

#!/usr/bin/env bash
# The tests beyond `cargo test`: the Python package (built and installed into a venv) against
# the command line, and report.html in headless Chromium. Installs what it needs: Debian's
# chromium when /usr/bin/chromium is missing (as root, as on CI), and a venv in the cargo target folder.
# Usage: tools/python-tests.sh   (from anywhere; builds the debug binary if needed)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

target="${CARGO_TARGET_DIR:-target}"
venv="$target/python-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r python/requirements-test.txt
# The package from this checkout: maturin compiles the Rust extension (abi3 wheel).
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps ./python

cargo build --quiet
export ROOFSIM_BIN="$(cd "$target" && pwd)/debug/roofsim"
"$venv/bin/pytest" -q python/tests tests/browser

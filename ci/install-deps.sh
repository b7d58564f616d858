#!/usr/bin/env bash
# Installs ddbench's build and test dependencies from Debian's archive. Idempotent.
set -euo pipefail
pkgs=(cmake ninja-build ccache g++ pkg-config git
      libtorch-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev libsqlite3-dev
      libpng-dev libjpeg-dev zlib1g-dev libssl-dev libarchive-dev libgtest-dev libgmock-dev libbenchmark-dev libmatio-dev
      python3-torch dataset-fashion-mnist
      chromium)  # tests/site: the HTML leaderboard checked in headless Chromium (skipped without it)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

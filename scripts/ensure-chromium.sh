#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver for the browser test when they are missing.
# Never fails the caller: where they cannot be installed, the browser test skips and says why.
set -u
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: not root or no apt-get; the browser test will skip" >&2
  exit 0
fi
echo "ensure-chromium: installing chromium and chromium-driver (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 \
  || echo "ensure-chromium: apt-get install failed; the browser test will skip" >&2
exit 0

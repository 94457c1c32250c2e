#!/usr/bin/env bash
# Debian packages the tests and examples use: ngspice (independent cross-check of the twin) and
# dataset-fashion-mnist (TNGD experiments). Installed only when root and missing; otherwise the
# tests that need them skip with a loud notice.
set -u
PKGS=(ngspice dataset-fashion-mnist)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "sysdeps: installing ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/tmp/spu-sysdeps.log 2>&1 \
    || echo "sysdeps: WARNING: apt-get install ${missing[*]} failed (see /tmp/spu-sysdeps.log); tests needing them will skip"
else
  echo "sysdeps: WARNING: not root; ${missing[*]} not installed; tests needing them will skip"
fi
exit 0

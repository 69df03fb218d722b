#!/usr/bin/env bash
# Installs the Debian packages nabla needs to build and test, when missing.
# Called by the Makefile when pkg-config cannot find them; safe to rerun.
set -eu
pkgs=(build-essential pkg-config check libpcre2-dev libjansson-dev libstb-dev
      fonts-dejavu-core libmicrohttpd-dev libedit-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

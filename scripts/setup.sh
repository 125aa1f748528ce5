#!/usr/bin/env bash
# Installs what the demo and the tests need, and only what is missing: the network tools through
# apt (as root, on Debian or Ubuntu), and the npm packages when node_modules is absent or older
# than package-lock.json. Safe to run again; `npm run demo` and `npm test` run it first.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package -> a command it provides, to test for it without dpkg.
declare -A packages=(
  [iproute2]=ip
  [nftables]=nft
  [iptables]=iptables-restore
  [iputils-arping]=arping
  [procps]=sysctl
  [libcap2-bin]=capsh
  [util-linux]=setpriv
  [time]=/usr/bin/time
  [curl]=curl
  [tcpdump]=tcpdump
  [keepalived]=keepalived
  [conntrack]=conntrack
  [dnsmasq-base]=dnsmasq
)
missing=()
for package in "${!packages[@]}"; do
  command -v "${packages[$package]}" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "setup: missing ${missing[*]}; install them (as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

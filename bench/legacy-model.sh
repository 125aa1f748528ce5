#!/usr/bin/env bash
# A model of the legacy egress router's `init` path, for the benchmark's start-up comparison:
# the legacy script's steps, in its order, with its tools, as LEGACY-ROUTER.md describes them.
#   1. if `ip route get $EGRESS_GATEWAY` does not go through macvlan0: add the source address,
#      bring macvlan0 up, add a host route to the gateway, move the default route to it;
#   2. gratuitous ARP: `arping -A -c 1` in the foreground (it waits for its interval), and a
#      second announcement 2 s later in the background;
#   3. a bash loop over EGRESS_DESTINATION that emits one DNAT rule per line, in order, loaded
#      with the SNAT rule by one `nft -f` into a flushed `table ip nat` (its form since 2026).
# Only the init mode and the checks that shape its cost are modelled; it is not the product.
set -o errexit -o nounset -o pipefail

fail() {
  echo "$*" >&2
  exit 1
}

ipv4='[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+'
[[ "${EGRESS_SOURCE:-}" =~ ^${ipv4}(/[0-9]+)?$ ]] || fail "EGRESS_SOURCE unspecified or invalid"
[[ "${EGRESS_GATEWAY:-}" =~ ^${ipv4}$ ]] || fail "EGRESS_GATEWAY unspecified or invalid"
[[ -n "${EGRESS_DESTINATION:-}" ]] || fail "EGRESS_DESTINATION unspecified"
address="${EGRESS_SOURCE%/*}"
[[ "$EGRESS_SOURCE" == */* ]] && with_prefix="$EGRESS_SOURCE" || with_prefix="$EGRESS_SOURCE/32"

configure_network() {
  if ! ip route get "$EGRESS_GATEWAY" | grep -q macvlan0; then
    ip addr add "$with_prefix" dev macvlan0
    ip link set up dev macvlan0
    ip route add "$EGRESS_GATEWAY/32" dev macvlan0
    ip route del default
    ip route add default via "$EGRESS_GATEWAY" dev macvlan0
  fi
  arping -q -A -c 1 -I macvlan0 "$address"
  (sleep 2; arping -q -U -c 1 -I macvlan0 "$address" || true) >/dev/null 2>&1 </dev/null &
}

check_port() {
  (("$1" >= 1 && "$1" <= 65535)) || fail "Invalid port: $1, must be in the range 1 to 65535"
}

dnat_rules() {
  local line fallback='' local_port proto target remote_port
  declare -A used=()
  while read -r line; do
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    [[ -z "$fallback" ]] || fail "EGRESS_DESTINATION fallback IP must be the last line"
    if [[ "$line" =~ ^${ipv4}$ ]]; then
      echo "iifname \"eth0\" dnat to $line"
      fallback=1
      continue
    fi
    [[ "$line" =~ ^([0-9]+)\ +(tcp|udp)\ +(${ipv4})(\ +([0-9]+))?$ ]] || fail "EGRESS_DESTINATION value '$line' is invalid"
    local_port="${BASH_REMATCH[1]}" proto="${BASH_REMATCH[2]}" target="${BASH_REMATCH[3]}" remote_port="${BASH_REMATCH[5]}"
    check_port "$local_port"
    [[ -z "${used[$local_port]:-}" ]] || fail "EGRESS_DESTINATION localport $local_port is already used, must be unique for each destination"
    used[$local_port]=1
    if [[ -n "$remote_port" ]]; then
      check_port "$remote_port"
      target="$target:$remote_port"
    fi
    echo "iifname \"eth0\" $proto dport $local_port dnat to $target"
  done <<<"$EGRESS_DESTINATION"
}

load_firewall() {
  {
    echo 'table ip nat'
    echo 'flush table ip nat'
    echo 'table ip nat {'
    echo 'chain PREROUTING {'
    echo 'type nat hook prerouting priority dstnat; policy accept;'
    dnat_rules
    echo '}'
    echo 'chain POSTROUTING {'
    echo 'type nat hook postrouting priority srcnat; policy accept;'
    echo "oifname \"macvlan0\" snat to $address"
    echo '}'
    echo '}'
  } | nft -f -
}

[[ "${EGRESS_ROUTER_MODE:-legacy}" == init ]] || fail "this model only runs EGRESS_ROUTER_MODE=init"
configure_network
load_firewall

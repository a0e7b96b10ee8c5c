#!/usr/bin/env bash
# Writes Istio 1.9+ text access logs with one destination per line, for memory benchmarks at
# high cardinality. Usage: scripts/gen-cardinality.sh ips|hosts COUNT > FILE
#   ips:   COUNT passthrough TCP lines, each to its own public address (11.0.0.0 upwards), port 443
#   hosts: COUNT passthrough TLS lines, each to its own SNI host h<N>.example-<N/1000>.com, on
#          its own address (12.0.0.0 upwards)
# The same arguments give the same bytes.
set -euo pipefail
MODE=${1:?usage: $0 ips|hosts COUNT}
COUNT=${2:?usage: $0 ips|hosts COUNT}
case $MODE in ips | hosts) ;; *) echo "unknown mode $MODE: ips or hosts" >&2; exit 2 ;; esac
exec mawk -v mode="$MODE" -v n="$COUNT" 'BEGIN {
  base = (mode == "ips") ? 11 : 12
  for (i = 0; i < n; i++) {
    v = base * 16777216 + i
    ip = int(v / 16777216) "." int(v / 65536) % 256 "." int(v / 256) % 256 "." v % 256
    ms = i % 3600000
    ts = sprintf("2024-06-03T10:%02d:%02d.%03dZ", int(ms / 60000), int(ms / 1000) % 60, ms % 1000)
    sni = (mode == "ips") ? "-" : "h" i ".example-" int(i / 1000) ".com"
    printf "[%s] \"- - -\" 0 - - - \"-\" 100 200 5 - \"-\" \"-\" \"-\" \"-\" \"%s:443\" PassthroughCluster 10.244.1.9:%d %s:443 10.244.1.9:50000 %s -\n", ts, ip, 40000 + i % 20000, ip, sni
  }
}'

#!/usr/bin/env python3
"""Writes Fluent Bit JSON access-log lines from N namespaces that call a few shared hosts.

Usage: scripts/gen-namespaces.py N [LINES_PER_NAMESPACE] > corpus.jsonl

Each namespace's workload calls every shared host (HTTPS through PassthroughCluster), so each
host has N calling namespaces: the shape that made per-namespace entries quadratic. The output
depends on the arguments alone.
"""
import json
import sys

HOSTS = [
    ("api.stripe.com", "54.187.174.169"),
    ("github.com", "140.82.121.3"),
    ("api.sendgrid.com", "159.183.146.9"),
    ("storage.googleapis.com", "142.250.74.112"),
]


def main():
    n = int(sys.argv[1])
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    out = sys.stdout
    for i in range(n):
        ns = f"ns-{i}"
        for j in range(per):
            host, ip = HOSTS[(i + j) % len(HOSTS)]
            sec = (i * per + j) % 60
            minute = (i * per + j) // 60 % 60
            line = (
                f'[2024-06-02T10:{minute:02d}:{sec:02d}.000Z] "- - -" 0 - - - "-" 1200 5300 210 - '
                f'"-" "-" "-" "-" "{ip}:443" PassthroughCluster 10.244.5.7:49778 {ip}:443 '
                f"10.244.5.7:40424 {host} -"
            )
            rec = {
                "log": line,
                "kubernetes": {
                    "namespace_name": ns,
                    "pod_name": "app-7d4b9c6f5-x2k8p",
                    "container_name": "istio-proxy",
                },
            }
            out.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine (root, no systemd) for labctl's CI:
# vagrant, debootstrap and docker.io from apt, and a running dockerd.
# Idempotent: a second run installs nothing and returns quickly.
# The box itself is built later by `labctl box build --provider docker`.
set -euo pipefail

say() { printf 'setup-host: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    say "must run as root" >&2
    exit 1
fi

missing=()
command -v vagrant >/dev/null 2>&1 || missing+=(vagrant)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # an oracle for labctl's apr1 hashes
need_docker=0
if ! { command -v docker && command -v dockerd; } >/dev/null 2>&1; then
    need_docker=1
fi

if [ "${#missing[@]}" -gt 0 ] || [ "$need_docker" -eq 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    say "apt-get update"
    apt-get update -qq
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing ${missing[*]}"
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    if [ "$need_docker" -eq 1 ]; then
        say "installing docker.io"
        apt-get install -y -qq docker.io
    fi
else
    say "vagrant, debootstrap and docker already installed"
fi

if docker info >/dev/null 2>&1; then
    say "dockerd is running"
else
    say "starting dockerd (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 1 60); do
        if docker info >/dev/null 2>&1 || ! kill -0 "$dockerd_pid" 2>/dev/null; then
            break
        fi
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        say "dockerd did not come up within 60 s; last lines of /var/log/dockerd.log:" >&2
        tail -n 20 /var/log/dockerd.log >&2 || true
        exit 1
    fi
    say "dockerd is up"
fi

say "vagrant $(vagrant --version | awk '{print $2}'), $(docker --version), debootstrap $(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null || echo '?')"

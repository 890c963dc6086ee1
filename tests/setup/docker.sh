#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
# Uses the engine that already answers (a developer's laptop); otherwise installs
# Debian's docker.io (engine 20.10, API 1.41) and starts dockerd in the background.
# State (log, pid file) lives in $MCPD_TEST_STATE. Idempotent.
set -euo pipefail

state=${MCPD_TEST_STATE:-/tmp/mcpd-test}
log=$state/dockerd.log
pidfile=$state/dockerd.pid
wait_secs=${MCPD_DOCKER_WAIT:-60}

say() { printf '[docker.sh] %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  say "engine already answers: $(docker info --format '{{.ServerVersion}}' 2>/dev/null)"
  exit 0
fi

bash "$(dirname "$0")/apt-install.sh" docker.io
mkdir -p "$state"

# Start dockerd unless the one we started earlier is still alive (maybe still booting).
if [[ -s $pidfile && -d /proc/$(cat "$pidfile") ]]; then
  say "dockerd (pid $(cat "$pidfile")) already running; waiting for it"
else
  say "starting dockerd, log: $log"
  rm -f "$pidfile"
  sudo_=()
  ((EUID == 0)) || sudo_=(sudo)
  # A machine restored from a snapshot can keep the pid file of the containerd an
  # earlier dockerd started; if that pid now belongs to another process, dockerd
  # believes containerd is still running and times out waiting for its socket.
  ctr_pid=/var/run/docker/containerd/containerd.pid
  if "${sudo_[@]}" test -s "$ctr_pid"; then
    pid=$("${sudo_[@]}" cat "$ctr_pid")
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) != containerd ]]; then
      say "removing stale $ctr_pid (pid $pid is not containerd)"
      "${sudo_[@]}" rm -f "$ctr_pid"
    fi
  fi
  # setsid + no stdin: the daemon must outlive this script and the CI step
  # that ran it; dockerd writes its own pid to $pidfile.
  setsid "${sudo_[@]}" dockerd --pidfile "$pidfile" </dev/null >>"$log" 2>&1 &
  started=$!
fi

for ((i = 0; i < wait_secs * 2; i++)); do
  if docker info >/dev/null 2>&1; then
    say "engine answers: $(docker info --format '{{.ServerVersion}} ({{.Driver}}, cgroup v{{.CgroupVersion}})')"
    exit 0
  fi
  # Stop waiting as soon as the daemon we started has died.
  if [[ -n ${started:-} && ! -d /proc/$started ]]; then break; fi
  sleep 0.5
done

say "ERROR: no Docker engine answered (waited up to ${wait_secs}s); last lines of $log:"
tail -n 30 "$log" >&2 || true
exit 1

#!/usr/bin/env bash
# Installs what the test suite runs for real and Go does not provide, from
# Debian's archive: OpenLDAP's slapd and the ldap-utils (ldapadd); curl,
# with which the README's walkthrough is run as written; and docker.io
# (dockerd, containerd, runc and the docker CLI), which the engine proxy's
# tests start in their own network namespace (iproute2, nsenter); and
# etcd-server, on which e2e/kubernetes runs a real kube-apiserver; and
# chromium, in which the console's tests (ui/tests) run, headless; and
# nginx, the HTTP server the decision log's end-to-end test sends its
# compressed batches to; and libisal-dev, Intel's ISA-L, whose gzip the
# decision log's HTTP sink uses in a build with the isal tag (make build
# and the tests build with it when it is installed); and postgresql, the
# datastore of the benchmark's OpenFGA peers beside SQLite (each run
# starts a server of its own in a temporary directory).
# The tests start their own slapd processes on free loopback ports; the
# packages' system services are kept from starting while they install.
set -euo pipefail
if [ -x /usr/sbin/slapd ] && [ -x /usr/sbin/slapadd ] && [ -x /usr/bin/ldapadd ] && [ -x /usr/bin/curl ] &&
  [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] && [ -x /usr/sbin/runc ] && [ -x /usr/bin/etcd ] && [ -x /usr/bin/chromium ] && [ -x /usr/sbin/nginx ] && [ -f /usr/include/isa-l/igzip_lib.h ] && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && id postgres >/dev/null 2>&1 && command -v ip >/dev/null && command -v nsenter >/dev/null; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "test-deps: installing slapd, ldap-utils, curl, docker.io, etcd-server, chromium, nginx, libisal-dev and postgresql" >&2
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  made_policy=yes
fi
trap '[ -n "$made_policy" ] && $sudo rm -f "$policy"' EXIT
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends slapd ldap-utils curl docker.io etcd-server chromium nginx libisal-dev postgresql iproute2 util-linux >/dev/null

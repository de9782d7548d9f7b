#!/usr/bin/env bash
# Installs what `make build` (and so `make run`) can use and Go does not
# provide: Debian's libisal-dev, Intel's ISA-L, whose gzip the decision
# log's HTTP sink uses in a build with the isal tag. It needs root and
# Debian's archive; without either, or should the install fail, it says so
# and grantd builds in pure Go: never a reason for the build to fail.
set -uo pipefail
header=/usr/include/isa-l/igzip_lib.h # internal/buildtags.ISALHeader
[ -f "$header" ] && exit 0
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libisal-dev >/dev/null 2>&1; }
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "build-deps: installing libisal-dev (Intel's ISA-L, the decision log's gzip)" >&2
  if install || { apt-get update -qq >/dev/null 2>&1 && install; }; then
    exit 0
  fi
fi
echo "build-deps: libisal-dev is not installed, so grantd builds in pure Go and its decision log's HTTP sink" \
  "compresses with more CPU (README, Decision logs); as root, apt-get install libisal-dev and build again" >&2
exit 0

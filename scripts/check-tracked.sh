#!/usr/bin/env bash
# Fails when the repository tracks something built: an executable or
# object file (ELF, Mach-O, PE magic) or any file over 2 MiB. Generated
# source (protobuf, the OpenAPI document) is text and stays well under it.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bad=0
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  size=$(stat -c %s "$f")
  if [ "$size" -gt $((2 * 1024 * 1024)) ]; then
    echo "tracked file over 2 MiB (built output?): $f ($size bytes)"; bad=1; continue
  fi
  magic=$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')
  case "$magic" in
    7f454c46|cffaedfe|cefaedfe|feedface|feedfacf|4d5a*)
      echo "tracked binary (built output?): $f"; bad=1 ;;
  esac
done < <(git ls-files -z)
exit $bad

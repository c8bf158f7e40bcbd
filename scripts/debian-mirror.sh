#!/usr/bin/env bash
# Where this machine gets Debian from, read from its own apt configuration, so that setup.sh's
# backports line uses the same mirror (a local mirror, a proxy-cache URL, snapshot.debian.org)
# rather than a fixed deb.debian.org. apt's own proxy settings (Acquire::http::Proxy) apply to
# the new line by themselves.
#
#   scripts/debian-mirror.sh --codename        the release codename (VERSION_CODENAME in /etc/os-release)
#   scripts/debian-mirror.sh --uri             the URI of the main Debian suite (e.g. http://deb.debian.org/debian)
#   scripts/debian-mirror.sh --backports-line  the one-line apt source for CODENAME-backports from that URI
#
# The main suite is the first enabled `deb` entry whose suite is exactly the codename (not
# -updates or -security), in /etc/apt/sources.list, then /etc/apt/sources.list.d/*.list, then
# deb822 /etc/apt/sources.list.d/*.sources; commented-out lines and `Enabled: no` stanzas are
# skipped. Its signed-by (or Signed-By file) and trusted options carry over. Without one, the URI
# is http://deb.debian.org/debian. APT_ROOT (default empty) reads the files under another root,
# for tests.
set -euo pipefail
root="${APT_ROOT:-}"

codename() {
  local f="$root/etc/os-release"
  [ -f "$f" ] || return 0
  # A subshell: os-release is shell assignments; only VERSION_CODENAME is wanted.
  (. "$f" 2>/dev/null && echo "${VERSION_CODENAME:-}")
}

# Prints "URI<TAB>OPTIONS" for the main suite of CODENAME from one-line .list files.
from_list() {
  local suite="$1" file line
  local -
  set -f # `[arch=amd64]` in a line is not a glob
  shift
  for file in "$@"; do
    [ -f "$file" ] || continue
    while IFS= read -r line || [ -n "$line" ]; do
      line="${line%%#*}"
      # shellcheck disable=SC2086
      set -- $line
      [ "${1:-}" = deb ] || continue
      shift
      local opts=""
      if [[ "${1:-}" == \[* ]]; then
        opts="$1"
        shift
        while [[ "$opts" != *\] ]] && [ $# -gt 0 ]; do opts="$opts $1"; shift; done
        opts="${opts#[}"
        opts="${opts%]}"
      fi
      [ $# -ge 2 ] || continue
      if [ "$2" = "$suite" ]; then
        printf '%s\t%s\n' "$1" "$opts"
        return 0
      fi
    done <"$file"
  done
  return 1
}

# The same for deb822 .sources files (stanzas of Field: value, blank-line separated).
from_sources() {
  local suite="$1" file
  shift
  for file in "$@"; do
    [ -f "$file" ] || continue
    local out
    out="$(awk -v want="$suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "") {
          n = split(suites, s, " ")
          for (i = 1; i <= n; i++) if (s[i] == want) {
            split(uris, u, " ")
            opts = ""
            if (signed != "" && signed !~ / /) opts = "signed-by=" signed
            if (trusted == "yes") opts = (opts == "" ? "" : opts " ") "trusted=yes"
            print u[1] "\t" opts
            found = 1
            exit
          }
        }
        types = ""; uris = ""; suites = ""; enabled = ""; signed = ""; trusted = ""; last = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { if (last != "") { v = $0; gsub(/^[ \t]+|[ \t]+$/, "", v); val[last] = val[last] " " v; assign(last) } next }
      {
        i = index($0, ":")
        if (i == 0) next
        key = tolower(substr($0, 1, i - 1)); v = substr($0, i + 1); gsub(/^[ \t]+|[ \t]+$/, "", v)
        val[key] = v; last = key; assign(key)
      }
      function assign(k) {
        if (k == "types") types = val[k]
        else if (k == "uris") uris = val[k]
        else if (k == "suites") suites = val[k]
        else if (k == "enabled") enabled = tolower(val[k])
        else if (k == "signed-by") signed = val[k]
        else if (k == "trusted") trusted = tolower(val[k])
      }
      END { if (!found) flush() }
    ' "$file")"
    if [ -n "$out" ]; then
      printf '%s\n' "$out"
      return 0
    fi
  done
  return 1
}

main_suite() {
  local suite="$1"
  local lists=("$root/etc/apt/sources.list") sources=()
  local f
  for f in "$root"/etc/apt/sources.list.d/*.list; do [ -f "$f" ] && lists+=("$f"); done
  for f in "$root"/etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && sources+=("$f"); done
  [ -n "$suite" ] || return 1
  from_list "$suite" "${lists[@]}" || { [ ${#sources[@]} -gt 0 ] && from_sources "$suite" "${sources[@]}"; }
}

code="$(codename)"
found="$(main_suite "$code" || true)"
uri="${found%%$'\t'*}"
opts=""
[ -n "$found" ] && opts="${found#*$'\t'}"
uri="${uri:-http://deb.debian.org/debian}"
uri="${uri%/}"

case "${1:---backports-line}" in
  --codename) echo "$code" ;;
  --uri) echo "$uri" ;;
  --backports-line)
    [ -n "$code" ] || { echo "debian-mirror.sh: no VERSION_CODENAME in $root/etc/os-release" >&2; exit 1; }
    echo "deb ${opts:+[$opts] }$uri $code-backports main"
    ;;
  *) echo "usage: scripts/debian-mirror.sh [--codename|--uri|--backports-line]" >&2; exit 2 ;;
esac

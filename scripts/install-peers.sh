#!/usr/bin/env bash
# Installs the real SIP peers the interop tests drive (Debian packages):
# SIPp, sipsak, tshark, baresip, Kamailio, ffmpeg (G.722 reference), sox (the
# softphone's sound card), espeak-ng (the PBX's text to speech), Chromium (the
# browser phone's tests, driven by playwright-core), coturn (TURN relay), plus
# openssl and iproute2.
#
#   bash scripts/install-peers.sh               install (root; CI runs as root)
#   bash scripts/install-peers.sh --if-missing  do nothing when all are there
#                                               (npm's pretest runs this)
set -euo pipefail

# Binaries that prove the peers are installed, and the packages to install.
BINARIES=(sipp sipsak tshark baresip kamailio ffmpeg sox espeak-ng chromium turnserver)
PACKAGES=(sip-tester sipsak tshark baresip kamailio ffmpeg sox espeak-ng chromium coturn openssl iproute2)

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
}

if_missing=0
for arg in "$@"; do
  case "$arg" in
    --if-missing) if_missing=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install-peers: unknown option: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

# kamailio lives in /usr/sbin, which a normal user's PATH often lacks.
have() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing=()
for bin in "${BINARIES[@]}"; do
  have "$bin" || missing+=("$bin")
done

if [ "${#missing[@]}" -eq 0 ] && { [ "$if_missing" -eq 1 ] || [ "$(id -u)" -ne 0 ]; }; then
  echo "install-peers: ${BINARIES[*]} already installed; nothing to do."
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
  echo "install-peers: missing: ${missing[*]}." >&2
  echo "install-peers: installing needs root; run:" >&2
  echo "  sudo bash $script" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-peers: apt-get not found; install these packages by hand: ${PACKAGES[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# tshark's package asks whether non-root users may capture; answer it first
# so the install cannot stop at a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-peers: missing: ${missing[*]}"
fi
echo "install-peers: installing ${PACKAGES[*]}"
apt-get update
# The needed baresip modules (ctrl_tcp, aufile, sndfile, g711, g722, opus,
# alsa) are all in baresip-core; its recommends are GUI front ends.
apt-get install -y --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${PACKAGES[@]}"

still=()
for bin in "${BINARIES[@]}"; do
  have "$bin" || still+=("$bin")
done
if [ "${#still[@]}" -gt 0 ]; then
  echo "install-peers: still missing after install: ${still[*]}" >&2
  exit 1
fi
echo "install-peers: done."

#!/usr/bin/env bash
# Installs the Debian packages radio-jockey needs. Always: ffmpeg (decode/encode) and dpkg-deb
# (fetching the free demo music). With --dev, what only the tests and benchmarks need as well:
# fluidsynth and a small GM soundfont (rendering MIDI pieces with known key and tempo), and
# chromium and firefox-esr (the web player's browser tests). As root it installs them;
# otherwise it prints the exact command to run.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v dpkg-deb >/dev/null || need+=(dpkg)
if [ "${1:-}" = "--dev" ]; then
    command -v fluidsynth >/dev/null || need+=(fluidsynth)
    [ -e /usr/share/sounds/sf2/TimGM6mb.sf2 ] || need+=(timgm6mb-soundfont)
    command -v chromium >/dev/null || need+=(chromium)
    command -v firefox-esr >/dev/null || need+=(firefox-esr)
elif [ -n "${1:-}" ]; then
    echo "usage: $0 [--dev]" >&2
    exit 2
fi
[ ${#need[@]} -eq 0 ] && exit 0
cmd="apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${need[*]}"
if [ "$(id -u)" -eq 0 ]; then
    echo "installing system packages: ${need[*]}"
    bash -c "$cmd" >/dev/null
else
    echo "radio-jockey needs system packages: ${need[*]}. Run as root:" >&2
    echo "  sudo bash -c '$cmd'" >&2
    exit 1
fi

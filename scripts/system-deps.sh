#!/usr/bin/env bash
# Installs the Debian packages radio-jockey needs: ffmpeg (decode/encode), fluidsynth and a small
# GM soundfont (rendering MIDI test pieces with known key and tempo). As root it installs them;
# otherwise it prints the exact command to run.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v fluidsynth >/dev/null || need+=(fluidsynth)
[ -e /usr/share/sounds/sf2/TimGM6mb.sf2 ] || need+=(timgm6mb-soundfont)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v chromium >/dev/null || need+=(chromium)  # the web player's browser test
command -v firefox-esr >/dev/null || need+=(firefox-esr)  # the same test in Firefox (BiDi)
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

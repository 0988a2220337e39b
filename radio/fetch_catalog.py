"""The Debian packages radio-jockey fetches music from: named sets, styles and music layouts.

`CI_PACKAGES`, `DEMO_PACKAGES`, `DEV_PACKAGES` and `GM_PACKAGES` are the corpora behind
``radio fetch-ci``, ``fetch-demo``, ``fetch-dev`` and ``fetch-gm`` (`CORPORA` by name); the last
is General MIDI game music, rendered with the `SOUNDFONTS`. `STYLES` gives each package one
honest style label, the ground truth of the prompt-search tests and benchmarks. `PACKAGE_SPECS`
says where each package keeps its music and which files there are not tracks (a `PackageSpec`);
a package needs an entry in both to be fetched.

Pure data: nothing here downloads, unpacks or opens a file (`radio.fetch` does, through its
``fetch_*`` modules).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CI_PACKAGES",
    "CORPORA",
    "DEMO_PACKAGES",
    "DEV_PACKAGES",
    "GM_PACKAGES",
    "PACKAGE_SPECS",
    "SOUNDFONTS",
    "STYLES",
    "PackageSpec",
]


CI_PACKAGES = ("neverball-common", "xmoto-data")
# Four clearly different styles (electronic, ambient, orchestral, retro) in about 250 MB.
DEMO_PACKAGES = ("nexuiz-music", "warzone2100-music", "flare-game", "drascula-music")
DEV_PACKAGES = (
    "ufoai-music",
    "warzone2100-music",
    "nexuiz-music",
    "hedgewars-data",
    "drascula-music",
    "flare-game",
    "asc-music",
    "planetblupi-music-ogg",
)
# General MIDI game music, rendered by fluidsynth: 4.2 h more training material in other timbres
# (real instruments sampled, not synthesised) and styles (jazz, ragtime, rock) than the dev set's.
GM_PACKAGES = ("openttd-openmsx", "freedoom")
CORPORA: dict[str, tuple[str, ...]] = {
    "ci": CI_PACKAGES, "demo": DEMO_PACKAGES, "dev": DEV_PACKAGES, "gm": GM_PACKAGES}
"""The named package sets, by the name `radio.fetch.fetch_corpus` takes."""

# One honest style label per package: the ground truth for prompt-search tests, so each says what
# the package as a whole sounds like. Each judgement combines the package's own metadata (genre
# tags, titles, the game) with measurements of every track (30 s at 22 kHz: percussive share of
# the energy by HPSS, spectral centroid, tempo, pulse clarity) and a look at spectrograms.
STYLES: dict[str, str] = {
    # Synth arpeggios over a drum machine in every bgm track; steady pulse (clarity 0.75).
    "neverball-common": "electronic",
    # Synth bass and drum loops, dark-toned (median centroid 0.8 kHz); the files' own genre tag
    # says only "Soundtrack". The least certain label here: electronic rather than rock.
    "xmoto-data": "electronic",
    # Film-style underscore for a sci-fi strategy game: orchestral themes (Vanethian) beside
    # synth-sweep battle cues (Crystan, FL Studio); little percussion (0.14), dark (1.3 kHz).
    "ufoai-music": "cinematic",
    # Dark, slow-moving synth textures; the lowest percussive share (0.14) and brightness
    # (centroid 1.0 kHz) of the sets with beats; the original 1999 score is ambient electronica.
    "warzone2100-music": "ambient",
    # Techno, drum'n'bass and industrial by elysis, blkrbt, Parapraxis (genre tag "Electronic");
    # the most percussive and brightest set (0.35, 2.3 kHz), tempo ~130 BPM.
    "nexuiz-music": "electronic",
    # Cartoon-game theme tunes per map (pirate, oriental, Halloween, snow, olympics...), the most
    # varied set (pulse clarity 0.23-0.95): one mood, not one genre.
    "hedgewars-data": "playful",
    # A 1996 adventure game's score: General-MIDI-style synthesis (perfectly steady partials, no
    # vibrato), mostly without drums (percussive share 0.09).
    "drascula-music": "retro",
    # Fantasy RPG themes (town, battle, dungeon, magical): sustained strings/winds, timpani hits;
    # the softest and darkest set (percussive share 0.04, centroid 0.7 kHz).
    "flare-game": "orchestral",
    # Synth stabs and drum loops (percussive share 0.51) in two of three tracks, pads in the third.
    "asc-music": "electronic",
    # Drum-machine grooves under synth leads: bright (2.5 kHz), percussive (0.42) and the
    # clearest pulse of all (0.79).
    "planetblupi-music-ogg": "electronic",
    # OpenTTD's replacement for Transport Tycoon's score: blues, boogie-woogie, ragtime and swing
    # tunes (City Blues, Boogi Marabi, Be Sharp...); a drum kit in 30 of 31, piano in 19, and
    # acoustic or electric bass the commonest other parts.
    "openttd-openmsx": "jazz",
    # Freedoom's level music in the Doom tradition: overdriven or distortion guitar (GM 29/30)
    # in 50 of its 67 MIDI lumps and a drum kit in 64, between slower atmospheric pieces.
    "freedoom": "rock",
}

SOUNDFONTS: tuple[tuple[str, str], ...] = (
    ("fluid-soundfont-gm", "usr/share/sounds/sf2/FluidR3_GM.sf2"),
    ("timgm6mb-soundfont", "usr/share/sounds/sf2/TimGM6mb.sf2"),
)
"""(package, path inside it) of the General MIDI soundfonts MIDI music is rendered with, taking
turns track by track: two instrument sets, so no one sampled piano stands for all pianos."""


@dataclass(frozen=True)
class PackageSpec:
    """Where a package keeps its music; ``music`` folders are relative to ``root``.

    A folder of the form ``x.pk3/dir`` reaches inside the zip ``x.pk3``; with ``midi``, one
    named ``x.wad`` means the MIDI lumps of that Doom WAD.
    """

    album: str
    root: str
    music: tuple[str, ...]
    exclude: tuple[tuple[str, str], ...] = ()  # (file-name glob, why it is not a track)
    loops: bool = False  # each file repeats one cycle; keep one
    midi: bool = False  # General MIDI, not audio: each file is rendered with the SOUNDFONTS


PACKAGE_SPECS: dict[str, PackageSpec] = {
    "neverball-common": PackageSpec("Neverball", "usr/share/games/neverball", ("bgm",)),
    "xmoto-data": PackageSpec("X-Moto", "usr/share/games/xmoto", ("Textures/Musics",)),
    "ufoai-music": PackageSpec(
        "UFO: Alien Invasion", "usr/share/games/ufoai/base", ("0music.pk3/music",),
        exclude=(("dynamictest-*", "a test clip of the game's dynamic-music system"),),
    ),
    "warzone2100-music": PackageSpec("Warzone 2100", "usr/share/games/warzone2100/music", ("",)),
    "nexuiz-music": PackageSpec(
        "Nexuiz", "usr/share/games/nexuiz/data", ("music.pk3/sound/cdtracks",),
        exclude=(("thunder.ogg", "a thunder sound effect (noise, spectral flatness 0.3)"),),
    ),
    "hedgewars-data": PackageSpec("Hedgewars", "usr/share/games/hedgewars/Data", ("Music",)),
    "drascula-music": PackageSpec(
        "Drascula: The Vampire Strikes Back", "usr/share/scummvm/drascula", ("audio",)
    ),
    "flare-game": PackageSpec(
        "Flare", "usr/share/games/flare/mods/fantasycore", ("music",),
        exclude=(("wind_ambient.ogg", "a wind-noise ambience (its tags: CC0 'wind1'), not music"),),
    ),
    "asc-music": PackageSpec("Advanced Strategic Command", "usr/share/games/asc", ("music",)),
    "planetblupi-music-ogg": PackageSpec(
        "Planet Blupi", "usr/share/planetblupi", ("music",), loops=True
    ),
    "openttd-openmsx": PackageSpec(
        "OpenMSX", "usr/share/games/openttd/baseset/openmsx", ("",), midi=True
    ),
    "freedoom": PackageSpec(
        "Freedoom", "usr/share/games/doom", ("freedoom1.wad", "freedoom2.wad"), midi=True
    ),
}
"""Where each fetchable package keeps its music, by package name."""

"""``python -m hardware voice``: make the default clips, check a library, render a call."""

from __future__ import annotations

from pathlib import Path

import click

from hardware.voice import DEFAULT_DIR, ClipLibrary, announcement_text, announcement_wav


@click.group("voice")
def voice() -> None:
    """Call announcements from a clip library (语音播报): make-clips, check, say."""


@voice.command("make-clips")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_DIR, show_default=True)
def make_clips_cmd(directory: Path) -> None:
    """Regenerate the default clips with espeak-ng.

    \b
    Example:
        python -m hardware voice make-clips
    """
    from hardware.voice.make_clips import make_clips

    files = make_clips(directory)
    click.echo(f"wrote {len(files)} clips to {directory}")


@voice.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_DIR, show_default=True)
def check(directory: Path) -> None:
    """List clips missing from a library.

    \b
    Example:
        python -m hardware voice check --dir /srv/hall/voice
    """
    missing = ClipLibrary(directory).missing()
    if missing:
        raise click.ClickException("missing clips: " + ", ".join(f"{m}.wav" for m in missing))
    click.echo(f"{directory}: complete")


@voice.command()
@click.argument("number")
@click.argument("window", type=int)
@click.option("--kind", type=click.Choice(["call", "recall"]), default="call")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_DIR, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("announcement.wav"))
def say(number: str, window: int, kind: str, directory: Path, output: Path) -> None:
    """Render one announcement to a WAV file.

    \b
    Example:
        python -m hardware voice say A012 3 --kind recall -o /tmp/a.wav
    """
    output.write_bytes(announcement_wav(number, window, kind, ClipLibrary(directory)))
    click.echo(f"{announcement_text(number, window, kind)} -> {output}")

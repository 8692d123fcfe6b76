"""Finding a spec: a built-in lab by name, or a spec file by path (no YAML read here)."""

from __future__ import annotations

from pathlib import Path

from labctl import paths
from labctl.errors import UsageError


def builtin_labs() -> list[str]:
    return sorted(p.stem for p in paths.labs_dir().glob("*.yaml"))


def find_spec(ref: str, relative_to: Path | None = None) -> Path:
    """A built-in lab name or a path to a spec file."""
    candidate = Path(ref).expanduser()
    if relative_to is not None and not candidate.is_absolute():
        candidate = relative_to / candidate
    if candidate.is_file():
        return candidate
    builtin = paths.labs_dir() / f"{ref}.yaml"
    if "/" not in ref and builtin.is_file():
        return builtin
    import difflib

    names = builtin_labs()
    near = difflib.get_close_matches(ref, names, n=1)
    hint = f"did you mean '{near[0]}'?" if near else f"built-in labs: {', '.join(names)}; or give a path to a spec file"
    raise UsageError(f"no built-in lab or spec file named '{ref}'", hint)


def display(path: Path) -> str:
    """Built-in specs show as labs/NAME.yaml; others relative to the working directory if below it."""
    resolved = path.resolve()
    if resolved.parent == paths.labs_dir().resolve():
        return f"labs/{path.name}"
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)

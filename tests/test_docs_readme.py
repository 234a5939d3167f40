"""The README and docs/ say what the code does: generated parts match, links resolve."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from consumer.cli.app import app
from consumer.sandbox import config_reference
from sinks.registry import available_sinks

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SETUP = (
    "```bash\n"
    "python3 -m venv .venv && .venv/bin/pip install -e '.[embedded]' && .venv/bin/runledger demo"
    "   # the whole job on embedded engines\n"
    "bash .ci/run"
    "                                                                                     "
    "# lint, types and every test against real services\n"
    "```\n"
)


def test_the_configuration_reference_matches_the_settings_models() -> None:
    readme = README.read_text(encoding="utf-8")
    assert config_reference.embed(readme, config_reference.render()) == readme, (
        "README.md's configuration reference is stale: "
        "run python -m consumer.sandbox.config_reference --write"
    )


def test_the_reference_covers_every_setting_and_every_installed_sink() -> None:
    reference = config_reference.render()
    for variable in ("RUNLEDGER_SINKS", "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS",
                     "RUNLEDGER_KAFKA__SASL_PASSWORD", "RUNLEDGER_DEAD_LETTER__TOLERANCE",
                     "RUNLEDGER_METRICS__PORT", "RUNLEDGER_POSTGRES__URL"):  # fmt: skip
        assert f"| `{variable}` |" in reference
    for sink in available_sinks():
        assert f"#### Sink `{sink}`" in reference


def test_check_mode_fails_on_a_stale_readme(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(f"intro\n{config_reference.START}\nold table\n{config_reference.END}\nend\n")
    assert config_reference.main(["--readme", str(stale), "--check"]) == 1
    assert config_reference.main(["--readme", str(stale), "--write"]) == 0
    assert config_reference.main(["--readme", str(stale), "--check"]) == 0
    text = stale.read_text()
    assert text.startswith("intro\n")
    assert text.endswith("end\n")
    assert "old table" not in text


def test_the_readme_starts_with_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.startswith("# runledger\n\n" + SETUP)


def test_every_cli_verb_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    verbs = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert verbs
    for verb in verbs:
        assert f"runledger {verb}" in text, verb


def _markdown_files() -> list[Path]:
    return [README, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("document", _markdown_files(), ids=lambda p: p.name)
def test_relative_links_point_at_existing_files(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (document.parent / target.split("#", 1)[0]).resolve()
        assert path.exists(), f"{document.name} links to missing {target}"


def test_readme_anchors_exist() -> None:
    text = README.read_text(encoding="utf-8")
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    }
    linked = set(re.findall(r"\]\(#([^)]+)\)", text))
    linked |= {
        a for doc in (ROOT / "docs").glob("*.md")
        for a in re.findall(r"README\.md#([^)]+)\)", doc.read_text(encoding="utf-8"))
    }  # fmt: skip
    assert linked <= headings, linked - headings


def test_the_changelog_has_the_current_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")

"""The README's and the docs' examples run, and CI runs exactly the README's test command."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "README has no python example"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})


def test_ci_runs_the_readme_test_command():
    bash = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    test_cmd = [b.strip() for b in bash if "pytest" in b]
    assert len(test_cmd) == 1
    pytest_part = test_cmd[0].split("&&")[-1].strip()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert pytest_part in [line.strip() for line in ci]


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


DOCS = [p for p in sorted((ROOT / "docs").glob("*.md")) if _python_blocks(p)]


def test_docs_have_examples():
    assert len(DOCS) >= 6


@pytest.mark.parametrize("page", DOCS, ids=[p.name for p in DOCS])
def test_docs_python_examples_run(page, tmp_path, monkeypatch):
    # each page's python blocks run in order in one namespace, from a scratch directory
    blocks = _python_blocks(page)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, str(page), "exec"), namespace)

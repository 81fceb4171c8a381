"""CI building blocks: the composite action (action.yml and scripts/action_check.sh), the project's own
workflow using it, and the pre-commit hooks (.pre-commit-hooks.yaml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_action_is_composite_and_used_by_the_workflow() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"specs", "max-params", "max-macs", "base-ref"} <= set(action["inputs"])
    for step in action["runs"]["steps"]:
        assert "${{ inputs." not in step.get("run", ""), "inputs go through env, never into the script text"
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"]["test-and-report"]["steps"]
    assert any(s.get("uses") == "./" for s in steps)
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    readme = (ROOT / "README.md").read_text()
    assert "fetch-depth: 0" in readme and "git show origin/main:" in readme


@pytest.mark.skipif(shutil.which("check-jsonschema", path=str(BIN)) is None, reason="check-jsonschema not installed")
@pytest.mark.parametrize(
    ("schema", "path"),
    [("vendor.github-actions", "action.yml"), ("vendor.github-workflows", ".github/workflows/ci.yml")],
)
def test_github_schemas(schema: str, path: str) -> None:
    exe = shutil.which("check-jsonschema", path=str(BIN))
    run = subprocess.run([str(exe), "--builtin-schema", schema, str(ROOT / path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t", *args], check=True, capture_output=True
    )


def _action(repo: Path, **env: str) -> tuple[int, str, str]:
    summary = repo / "summary.md"
    output = repo / "output.txt"
    summary.write_text("")
    output.write_text("")
    full = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        **env,
    }
    run = subprocess.run(
        ["bash", str(ROOT / "scripts" / "action_check.sh")],
        capture_output=True,
        text=True,
        env=full,
        cwd=repo,
        timeout=300,
    )
    return run.returncode, summary.read_text(), output.read_text()


def test_action_script_checks_and_diffs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    net = repo / "models" / "net.yaml"
    text = (ROOT / "rescomp" / "spec" / "library" / "resnet_cifar.yaml").read_text()
    net.write_text(text)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "branch", "-f", "base")
    net.write_text(text.replace("n: {default: 3", "n: {default: 5"))
    code, summary, output = _action(repo, SPECS="models/net.yaml\nresnet18", MAX_PARAMS="20M", BASE_REF="base")
    assert code == 0 and output.strip() == "passed=true", summary
    assert "| parameters | 464,154 | 20,000,000 | pass |" in summary
    assert "**models/net.yaml** against `base`:" in summary and "| parameters | 269,722 | 464,154 |" in summary
    assert "**resnet18**: within budget" in summary  # a bundled name: checked, not diffed
    code, summary, output = _action(repo, SPECS="models/net.yaml", MAX_PARAMS="300k")
    assert code == 1 and output.strip() == "passed=false"
    assert "FAIL (+54.7%)" in summary  # the failure is in the summary, not only in the log
    code, _, _ = _action(repo, SPECS="")
    assert code == 2


def test_pre_commit_hooks_run_on_changed_files(tmp_path: Path) -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"rescomp-analyze", "rescomp-check"}
    assert all(h["language"] == "python" for h in hooks.values())
    good = tmp_path / "good.yaml"
    good.write_text((ROOT / "rescomp" / "spec" / "library" / "resnet_cifar.yaml").read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernal: 3}\n")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

    def hook(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        entry = hooks[name]["entry"].split()
        return subprocess.run([*entry, *args], capture_output=True, text=True, env=env, timeout=120)

    assert hook("rescomp-analyze", str(good)).returncode == 0
    failed = hook("rescomp-analyze", str(good), str(bad))
    assert failed.returncode == 1 and "bad.yaml:4:" in failed.stderr and "did you mean 'kernel'" in failed.stderr
    assert hook("rescomp-check", "--max-params", "1M", str(good)).returncode == 0
    over = hook("rescomp-check", "--max-params", "200k", str(good), str(good))
    assert over.returncode == 1 and over.stdout.count("exceed the budget of 200,000") == 2


@pytest.mark.skipif(shutil.which("pre-commit", path=str(BIN)) is None, reason="pre-commit not installed")
def test_pre_commit_try_repo(tmp_path: Path) -> None:
    """The hooks as a user's pre-commit runs them: `pre-commit try-repo` installs this repository into
    a hook environment of its own (rescomp's core only) and runs each hook on a scratch repository."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path / "user-repo"
    work.mkdir()
    (work / "good.yaml").write_text((ROOT / "rescomp" / "spec" / "library" / "resnet_cifar.yaml").read_text())
    (work / "bad.yaml").write_text("name: bad\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernal: 3}\n")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for args in (["init", "-q"], ["add", "."]):
        subprocess.run(["git", *args], cwd=work, check=True, env=env, capture_output=True)

    def try_repo(hook: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(BIN / "pre-commit"), "try-repo", str(ROOT), hook, *args]
        return subprocess.run(command, cwd=work, capture_output=True, text=True, env=env, timeout=600)

    assert try_repo("rescomp-analyze", "--files", "good.yaml").returncode == 0
    failed = try_repo("rescomp-analyze", "--files", "good.yaml", "bad.yaml")
    assert (
        failed.returncode == 1 and "bad.yaml:4:24: error" in failed.stdout and "did you mean 'kernel'" in failed.stdout
    )

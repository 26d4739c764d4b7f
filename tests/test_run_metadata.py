"""The report names the code that ran: the commit read when the run started, and whether the
checkout had uncommitted changes."""

from __future__ import annotations

import subprocess

from qa_models import run_metadata


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


def test_git_commit_names_head_and_uncommitted_changes(tmp_path, monkeypatch):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "commit", "-qm", "one")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    monkeypatch.setattr(run_metadata, "REPO_ROOT", tmp_path)
    assert run_metadata.git_commit() == head
    (tmp_path / "new.txt").write_text("untracked files do not count\n")
    assert run_metadata.git_commit() == head
    (tmp_path / "a.py").write_text("x = 2\n")
    assert run_metadata.git_commit() == f"{head} (uncommitted changes)"


def test_no_git_checkout_gives_none(tmp_path, monkeypatch):
    monkeypatch.setattr(run_metadata, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert run_metadata.git_commit() is None

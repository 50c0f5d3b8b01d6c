"""The app as admins install it: a wheel, in a fresh venv, run from an empty directory.

By default the wheel is built from this checkout and installed without its
dependencies into a new venv that borrows them from the test environment (no
download). `.ci/run` also installs it as an admin would, dependencies and all, and
points ``AMIGO_SLACK_WHEEL_CLI`` at that install's ``amigo-slack``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path

import pytest
import yaml

from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import FakeSlack
from tests.contract.test_slack_manifest import problems
from tests.test_cli import clean_env, env_for, free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]


def _build_and_install(work: Path) -> Path:
    # Build from a copy: a build writes into its source tree, and other test workers
    # may be building at the same time.
    source, dist, venv = work / "source", work / "dist", work / "venv"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("slackbot", "migrations"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=skip)
    for name in ("pyproject.toml", "README.md", "manifest.yml"):
        shutil.copy2(ROOT / name, source / name)
    build = ["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)]
    subprocess.run([sys.executable, "-m", "pip", *build], check=True, capture_output=True)
    (wheel,) = dist.glob("amigo_slack-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    # The dependencies come from the test environment: a directory named in a .pth file
    # is added to the path, but its own .pth files (this checkout's editable install
    # among them) are not read, so `slackbot` can only come from the wheel.
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin" / "amigo-slack"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> str:
    given = os.environ.get("AMIGO_SLACK_WHEEL_CLI")
    if given:
        return given
    return str(_build_and_install(tmp_path_factory.mktemp("wheel")))


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    place = tmp_path / "empty"
    place.mkdir()
    return place


def run(cli: str, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cli, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_wheel_carries_its_code_and_files(cli: str, empty_dir: Path) -> None:
    python = Path(cli).with_name("python")
    where = run(
        str(python), "-c", "import slackbot; print(slackbot.__file__)", cwd=empty_dir, env={}
    )
    assert where.returncode == 0, where.stderr
    assert str(ROOT) not in where.stdout  # not this checkout's copy
    assert "site-packages" in where.stdout


def test_the_installed_app_migrates_prints_its_manifest_and_runs(
    cli: str, empty_dir: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    migrated = run(
        cli, "migrate", cwd=empty_dir, env=clean_env(DATABASE_URL="sqlite+aiosqlite:///./app.db")
    )
    assert migrated.returncode == 0, migrated.stderr
    assert (empty_dir / "app.db").exists()

    manifest = run(cli, "manifest", "--url", "https://bot.example.com", cwd=empty_dir, env={})
    assert manifest.returncode == 0, manifest.stderr
    assert problems(yaml.safe_load(manifest.stdout)) == []

    port = free_port()
    env = env_for(*fakes, empty_dir / "app.db", PORT=str(port), HOST="127.0.0.1")

    async def serve_then_stop() -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            cli, "run", cwd=empty_dir, env=env, stdout=PIPE, stderr=STDOUT
        )
        try:
            await wait_healthy(f"http://127.0.0.1:{port}", proc, 30)
            proc.send_signal(signal.SIGTERM)
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return proc.returncode or 0, out.decode()

    code, output = asyncio.run(serve_then_stop())
    assert code == 0, output
    assert "Traceback" not in output


def test_the_installed_app_can_be_tried(cli: str, empty_dir: Path) -> None:
    result = subprocess.run(
        [cli, "try"],
        input="hello from the wheel\n",
        cwd=empty_dir,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "amigo (edited): Echo: hello from the wheel" in result.stdout

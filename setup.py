"""The package build carries the product: the built widget and console and the console's templates
go into the wheel (app/_assets), so `pip install switchboard-*.whl` runs on a machine without npm.

The assets are built with npm + esbuild when widget/dist or agent_ui/dist is missing (the build
machine needs Node.js; the machines that install the wheel do not). Editable installs (`make
install`) use the source tree's files directly and copy nothing.
"""

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
ASSETS = {  # where in the package ← what in the source tree
    "widget": ROOT / "widget" / "dist",
    "console": ROOT / "agent_ui" / "dist",
    "console_templates": ROOT / "agent_ui" / "templates",
}


def build_front_end() -> None:
    for project in ("widget", "agent_ui"):
        if not (ROOT / project / "dist").exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT / project, check=True)
            subprocess.run(["npm", "run", "--silent", "build"], cwd=ROOT / project, check=True)


class BuildWithAssets(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        build_front_end()
        target = Path(self.build_lib) / "app" / "_assets"
        for name, source in ASSETS.items():
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(source, target / name)


setup(cmdclass={"build_py": BuildWithAssets})

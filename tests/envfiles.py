"""Environment files for unit tests: YAML text in a temp folder, loaded as the CLI loads it."""
from __future__ import annotations

import os
import textwrap

from cnxbackup.config import Environment, load_environment


def load(tmp_path, text: str, name: str = "unit") -> Environment:
    path = os.path.join(str(tmp_path), f"{name}.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(textwrap.dedent(text))
    return load_environment(path)

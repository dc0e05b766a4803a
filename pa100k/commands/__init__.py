"""Subcommands of ``python -m pa100k``; each module here registers its own with ``pa100k.cli.command``."""

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")

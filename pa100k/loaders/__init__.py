"""Loaders for the official releases; importing this package registers them.

Every public module in this folder is imported, so a new loader registers itself with one new file
(``pa100k``, ``peta``, ``rap``, ``rap2`` here; ``_mat`` holds the shared MATLAB helpers).
"""

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

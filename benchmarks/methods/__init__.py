"""The method registry; every module in this package registers one or more methods when imported."""

import importlib
import pkgutil

from benchmarks.methods.base import METHODS, Method, MethodOutput, RunContext, register_method

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["METHODS", "Method", "MethodOutput", "RunContext", "register_method"]

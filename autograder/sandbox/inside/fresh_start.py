"""Turning a forked, warm interpreter into a fresh program, as ``python`` would start it.

A process forked from one that imported torch once keeps those modules, and
that is the point of forking it; everything else must be what a freshly started
interpreter would have: the program's environment, ``sys.path`` and ``argv``,
Python's own SIGINT handler, new random seeds, none of our helper modules.
Used by the fork server for runners (``forkserver.run_python``) and by the
notebook runner for kernels (``inside/forked_kernels.py``).

Standard library only: the fork server loads this file as a plain module.
"""
import importlib
import os
import random
import runpy
import signal
import sys
import tempfile
import traceback


def reset(env: dict, path: list, drop=()) -> None:
    """The environment ``env``, ``sys.path`` ``path``, no module named in ``drop`` (nor
    their submodules), fresh random seeds and the default SIGINT handler."""
    os.environ.clear()
    os.environ.update(env)
    sys.path[:] = path
    for name in list(sys.modules):
        if name.split(".")[0] in drop:
            del sys.modules[name]
    importlib.invalidate_caches()
    tempfile.tempdir = None
    random.seed()
    if "numpy" in sys.modules:  # numpy and torch seed their global generators once, at import
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_main(args) -> int:
    """Run ``args``, the interpreter's command line after its options (``-c CODE ...``,
    ``-m MODULE ...`` or ``SCRIPT ...``), in this process; return its exit code."""
    code = 0
    try:
        if args[0] == "-c":
            sys.argv = ["-c", *args[2:]]
            exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
        elif args[0] == "-m":
            sys.argv = [args[1], *args[2:]]  # runpy puts the module's file in argv[0], as -m does
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(args)
            runpy.run_path(args[0], run_name="__main__")
    except SystemExit as exc:  # as the interpreter exits: None is 0, a number itself, anything else printed, 1
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return code & 0xFF

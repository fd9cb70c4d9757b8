"""The consensus core must stay a pure state machine: no I/O, no clock, no global randomness."""

import ast
import pathlib

import todonode.raft

RAFT_DIR = pathlib.Path(todonode.raft.__file__).parent
FORBIDDEN_MODULES = {
    "asyncio",
    "aiohttp",
    "aiofiles",
    "socket",
    "time",
    "os",
    "io",
    "pathlib",
    "pickledb",
    "threading",
    "subprocess",
    "select",
    "selectors",
    "datetime",
    "secrets",
    "uuid",
    "shutil",
    "tempfile",
}
# `random` is allowed only for the Random type: instances are injected, the module functions never used.
FORBIDDEN_CALLS = {"open", "print", "input"}


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_nothing_that_does_io_or_reads_a_clock():
    offenders = {}
    for path in RAFT_DIR.glob("*.py"):
        bad = _imports(ast.parse(path.read_text())) & FORBIDDEN_MODULES
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_core_never_calls_global_random_or_builtin_io():
    for path in RAFT_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name):
                    assert func.id not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {func.id}()"
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                    assert func.value.id != "random", (
                        f"{path.name}:{node.lineno} uses the global random module"
                    )


def test_the_purity_check_would_catch_an_offender(tmp_path):
    # The check above can fail: feed it a module that imports time.
    tree = ast.parse("import time\nfrom asyncio import sleep\n")
    assert _imports(tree) & FORBIDDEN_MODULES == {"time", "asyncio"}

"""The layers of /work/shared/ARCHITECTURE.md, checked on the source: the domain packages are pure
(plain values in, plain values out: no database, no sockets, no service calls) and the services
never reach up into the realtime transport.

Imports are read with `ast` from the files (nothing is imported), so an import inside a function,
under `if TYPE_CHECKING:`, a relative one or an `importlib.import_module("…")` counts like one at
the top of the module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"

# What pure domain code must not import: storage, the layers above it, process state, I/O clients.
NOT_IN_PURE = (
    "app.models", "tortoise", "app.services", "app.realtime", "app.bus", "app.web", "app.reports",
    "app.db", "app.runtime", "redis",
)
# What a service must not import: the transport layer above it (publishing goes through app.bus).
NOT_IN_SERVICES = ("app.realtime", "app.web")


def _pure_modules() -> list[Path]:
    kpi = sorted((APP / "kpi").rglob("*.py"))
    # app/routing/store.py is the storage adapter (memory | Redis) behind the RoutingStore protocol.
    routing = sorted(p for p in (APP / "routing").rglob("*.py") if p.name != "store.py")
    tracking = [APP / "tracking" / f"{name}.py" for name in ("referrer", "useragent", "geo", "rules")]
    knowledge = sorted((APP / "knowledge").rglob("*.py"))
    return kpi + routing + tracking + knowledge


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, dotted name) of everything `source` (the text of `module`) imports, anywhere in it."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append((node.lineno, base))
            # `from app import models` imports the module app.models.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def _matches(name: str, prefixes: tuple[str, ...]) -> str | None:
    return next((p for p in prefixes if name == p or name.startswith(p + ".")), None)


def violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    """One "path:line imports name" for each forbidden package an import line reaches."""
    out: dict[tuple[str, int, str], str] = {}
    for path in paths:
        module = _module_name(path)
        names = imported_names(path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py")
        for line, name in names:
            prefix = _matches(name, forbidden)
            if prefix:
                out.setdefault((str(path.relative_to(ROOT)), line, prefix), name)
    return [f"{where}:{line} imports {name}" for (where, line, _), name in sorted(out.items())]


def test_the_pure_domain_modules_exist():
    paths = _pure_modules()
    assert all(p.is_file() for p in paths), [str(p) for p in paths if not p.is_file()]
    names = {p.relative_to(APP).as_posix() for p in paths}
    assert {"kpi/engine.py", "kpi/erlang.py", "routing/policy.py", "tracking/rules.py"} <= names
    assert "routing/store.py" not in names


def test_domain_modules_are_pure():
    """app/kpi, app/routing (but its storage adapter) and the tracking classifiers import no
    storage, no service, no transport and no process state."""
    assert violations(_pure_modules(), NOT_IN_PURE) == []


def test_kpi_has_no_coroutines():
    """A KPI formula takes rows and returns numbers: nothing in app/kpi awaits (reading the
    event log is app/reports' work)."""
    found = []
    for path in sorted((APP / "kpi").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_services_do_not_import_the_transport():
    """Services publish through app.bus; they never import app/realtime (or app/web)."""
    services = sorted((APP / "services").rglob("*.py"))
    assert services
    assert violations(services, NOT_IN_SERVICES) == []


@pytest.mark.parametrize(("source", "module", "expected"), [
    ("import tortoise.functions", "app.kpi.x", "tortoise.functions"),
    ("from app import models", "app.kpi.x", "app.models"),
    ("def f():\n    from app.models import Visitor\n", "app.kpi.x", "app.models"),
    ("if TYPE_CHECKING:\n    import app.bus\n", "app.kpi.x", "app.bus"),
    ("from ..services import routing", "app.kpi.x", "app.services"),
    ("from .. import realtime", "app.routing.x", "app.realtime"),
    ("import importlib\nm = importlib.import_module('app.realtime.agent')", "app.kpi.x", "app.realtime"),
])
def test_the_check_sees_every_kind_of_import(source, module, expected):
    names = [name for _, name in imported_names(source, module)]
    assert any(_matches(name, (expected,)) for name in names), names


def test_the_check_leaves_allowed_imports_alone():
    source = "from app.kpi import engine\nfrom app.kpi.intervals import as_zone\nimport math\nimport app.modelsx\n"
    assert not [n for _, n in imported_names(source, "app.kpi.planning") if _matches(n, NOT_IN_PURE)]


def _service_imports(path: Path, *, nested: bool) -> set[str]:
    """The app.services modules a service module imports (at module level, or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(tree.body)
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.module or (node in top) == nested:
            continue
        if node.module == "app.services":
            found |= {a.name for a in node.names if a.name != "ServiceError"}
        elif node.module.startswith("app.services."):
            found.add(node.module.split(".")[2])
    return found


def test_services_import_each_other_without_a_cycle():
    """One direction of dependency among the services (ARCHITECTURE.md): no cycle, so nothing
    needs an import hidden inside a function to dodge one."""
    graph = {p.stem: _service_imports(p, nested=False) for p in (APP / "services").glob("*.py")}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        for dep in sorted(graph.get(module, ())):
            if dep in path:
                cycles.append(" → ".join(path[path.index(dep):] + [dep]))
            elif len(path) < len(graph):
                visit(dep, path + [dep])

    for module in sorted(graph):
        visit(module, [module])
    assert cycles == []


def test_no_service_hides_an_import_inside_a_function():
    hidden = {p.stem: sorted(found) for p in (APP / "services").glob("*.py")
              if (found := _service_imports(p, nested=True))}
    assert hidden == {}

"""The package's layers, read from every module's imports (module-level and inside functions) with `ast`.

A string that names a warmray module (`"warmray.judge_files"`, `"warmray.stages.judge:run"`) counts as an
import of it: the CLI and the pipeline load commands and stages by name, and such a name is an import the
`import` statements would not show.

Layers, low to high: the foundation (schema, errors, config and the small helpers beside them) → the
libraries (infer, tasks, grading, statistics, sociot, training, report, arms, and the helpers that read
run outputs) → the stages → the pipeline → audit, sweep and plan → cli. The pipeline sits below audit
and sweep because both run an experiment's stages through it; it names each stage only by
`warmray.stages.<name>:run`. A module never imports a higher layer; audit, sweep and plan take at most a
stage's public `run`; nothing reaches into a library's modules from outside it; and every stage's `run`
is found at `warmray.stages.<name>.run`.
Each failure names importer → imported, with the file and line.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "warmray"

FOUNDATION, LIBRARY, STAGE, PIPELINE, TOOL, ENTRY = range(6)
LAYER_NAMES = ("foundation", "library", "stage", "pipeline", "audit/sweep/plan", "entry point")
# The layer of each top-level package and module. A new one must be placed here (the test says so).
LAYERS = {
    **dict.fromkeys(
        ("schema", "errors", "config", "compat", "console", "models", "prompt_files", "rundir", "manifest"),
        FOUNDATION,
    ),
    **dict.fromkeys(("text", "seeded", "resumable", "progress", "processes", "runtime"), FOUNDATION),
    **dict.fromkeys(("infer", "tasks", "grading", "statistics", "sociot", "training", "report"), LIBRARY),
    # arms and preflight serve stages, audit and sweep alike; stage is the frame every stage runs in
    # (it reads infer's determinism notes); the readers and comparers of run outputs use the statistics.
    **dict.fromkeys(("arms", "preflight", "stage", "results_reader", "compare", "inspect_logs"), LIBRARY),
    "stages": STAGE,
    "pipeline": PIPELINE,
    **dict.fromkeys(("audit", "sweep", "plan", "judge_files", "judge_agreement", "sociot_texts"), TOOL),
    **dict.fromkeys(("cli", "__main__"), ENTRY),
}
# The one exception to the layer order, while it holds (test_the_layer_exception_still_holds): config
# checks judge.grader against the grader registry as it loads (a new grader is one module and one
# registry entry), and grading names config's types for type checking only, so at run time config
# stands below grading.
EXCEPTIONS = {("config", "grading")}
# Packages whose modules are theirs alone: others import their public face, `warmray.<library>`.
LIBRARIES = (
    "infer",
    "tasks",
    "grading",
    "statistics",
    "sociot",
    "training",
    "report",
    "audit",
    "sweep",
    "plan",
)


@dataclass(frozen=True)
class Import:
    """One import of a warmray module: who, what (the module itself, or a package's submodule), where."""

    importer: str
    imported: str
    names: tuple[str, ...]  # for `from X import a, b`: a, b that are not submodules; () otherwise
    where: str
    typing_only: bool = False  # inside `if TYPE_CHECKING:`
    by_name: bool = False  # a string naming the module, loaded by importlib or the pipeline

    def __str__(self) -> str:
        names = f" ({', '.join(self.names)})" if self.names else ""
        how = ", named in a string" if self.by_name else ""
        return f"{self.importer} → {self.imported}{names}  [{self.where}{how}]"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


MODULE_NAME = re.compile(r"warmray(\.[A-Za-z_]\w*)+(:[A-Za-z_]\w*)?")


def named_import(importer: str, text: str, where: str) -> Import | None:
    """The import a string stands for when it names a warmray module, or one of its attributes."""
    if not MODULE_NAME.fullmatch(text):
        return None
    parts = text.replace(":", ".").split(".")
    for end in range(len(parts), 1, -1):
        if is_module(".".join(parts[:end])):
            return Import(importer, ".".join(parts[:end]), tuple(parts[end:]), where, by_name=True)
    return None


def imports_of(path: Path) -> list[Import]:
    """Every warmray import in one file, at any depth (functions, TYPE_CHECKING blocks included)."""
    importer = module_name(path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
        typed = id(node) in typing_only
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            named = named_import(importer, node.value, where)
            found += [named] if named else []
        elif isinstance(node, ast.Import):
            found += [
                Import(importer, a.name, (), where, typed)
                for a in node.names
                if a.name.split(".")[0] == "warmray"
            ]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*kept, *([node.module] if node.module else [])])
            if base.split(".")[0] != "warmray":
                continue
            names = tuple(a.name for a in node.names if not is_module(f"{base}.{a.name}"))
            found += [
                Import(importer, f"{base}.{a.name}", (), where, typed)
                for a in node.names
                if is_module(f"{base}.{a.name}")
            ]
            if names:
                found.append(Import(importer, base, names, where, typed))
    return found


def all_imports() -> list[Import]:
    return [i for path in sorted(PACKAGE.rglob("*.py")) for i in imports_of(path)]


def top(module: str) -> str | None:
    """The top-level package or module under warmray (None for the package `warmray` itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_breaches(imports: list[Import]) -> list[str]:
    out = []
    for i in imports:
        low, high = top(i.importer), top(i.imported)
        if low is None or high is None or low == high or (low, high) in EXCEPTIONS:
            continue
        if LAYERS[high] > LAYERS[low]:
            out.append(f"{i}: a {LAYER_NAMES[LAYERS[low]]} imports a {LAYER_NAMES[LAYERS[high]]}")
    return out


def stage_breaches(imports: list[Import]) -> list[str]:
    """audit, sweep and plan take a stage only as `from warmray.stages.<name> import run`."""
    out = []
    for i in imports:
        if LAYERS.get(top(i.importer) or "") != TOOL or top(i.imported) != "stages":
            continue
        parts = i.imported.split(".")
        if len(parts) != 3 or i.names != ("run",):
            out.append(f"{i}: only a stage package's run, as `from warmray.stages.<name> import run`")
    return out


def inside_breaches(imports: list[Import]) -> list[str]:
    out = []
    for i in imports:
        parts = i.imported.split(".")
        if len(parts) > 2 and parts[1] in LIBRARIES and top(i.importer) != parts[1]:
            out.append(f"{i}: import it from warmray.{parts[1]} (its __all__), not from its module")
    return out


def test_every_top_level_module_has_a_layer():
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert sorted(names - LAYERS.keys()) == [], "place these in LAYERS (tests/test_import_rules.py)"


def test_no_module_imports_a_higher_layer():
    breaches = layer_breaches(all_imports())
    assert not breaches, "\n" + "\n".join(breaches)


def test_the_layer_exception_still_holds():
    for low, high in EXCEPTIONS:
        back = [i for i in all_imports() if (top(i.importer), top(i.imported)) == (high, low)]
        runtime = [str(i) for i in back if not i.typing_only]
        assert not runtime, f"{high} imports {low} at run time, so {low} → {high} is a cycle:\n" + "\n".join(
            runtime
        )


def test_no_library_or_foundation_module_imports_a_stage():
    # Implied by the layer rule; said on its own because it is the rule most worth keeping.
    imports = all_imports()
    below = [
        i for i in imports if LAYERS.get(top(i.importer) or "", ENTRY) < STAGE and top(i.imported) == "stages"
    ]
    assert not below, "\n" + "\n".join(map(str, below))


def test_config_imports_neither_plan_nor_infer():
    found = [i for i in imports_of(PACKAGE / "config.py") if top(i.imported) in ("plan", "infer")]
    assert not found, "\n" + "\n".join(map(str, found))


def test_audit_sweep_and_plan_take_only_a_stage_s_public_run():
    breaches = stage_breaches(all_imports())
    assert not breaches, "\n" + "\n".join(breaches)


def test_no_module_reaches_into_a_library_from_outside_it():
    breaches = inside_breaches(all_imports())
    assert not breaches, "\n" + "\n".join(breaches)


def pipeline_stage_targets() -> dict[str, str]:
    """Stage name → the `module:function` the pipeline runs it by (its `_lazy(...)` argument)."""
    tree = ast.parse((PACKAGE / "pipeline.py").read_text())
    found = {}
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Stage":
            name, runner = call.args[0], call.args[1]
            assert isinstance(runner, ast.Call) and getattr(runner.func, "id", "") == "_lazy", ast.unparse(
                call
            )
            found[name.value] = runner.args[0].value
    return found


def defines_run(package: Path) -> bool:
    tree = ast.parse((package / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "run":
            return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == "run" for a in node.names):
            return True
    return False


def test_every_stage_runs_by_its_package_s_run():
    targets = pipeline_stage_targets()
    packages = sorted(p.parent.name for p in (PACKAGE / "stages").glob("*/__init__.py"))
    assert sorted(targets) == packages
    for name, target in targets.items():
        assert target == f"warmray.stages.{name}:run", f"stage {name} runs {target}"
        assert defines_run(PACKAGE / "stages" / name), f"warmray/stages/{name}/__init__.py has no run"


# The rules can fail: each checker finds the breach it is for in a made-up import.
@pytest.mark.parametrize(
    ("check", "made_up"),
    [
        (layer_breaches, Import("warmray.tasks.advbench", "warmray.stages.judge", ("grade",), "x:1")),
        (layer_breaches, Import("warmray.config", "warmray.plan.assumptions", ("NAMES",), "x:1")),
        (stage_breaches, Import("warmray.plan.counts", "warmray.stages.grid.build", ("variants",), "x:1")),
        (stage_breaches, Import("warmray.sweep.trial", "warmray.stages.train", (), "x:1")),
        (inside_breaches, Import("warmray.audit.run", "warmray.statistics.glm", ("fit",), "x:1")),
    ],
)
def test_each_rule_names_a_made_up_breach(check, made_up):
    (breach,) = check([made_up])
    assert breach.startswith(f"{made_up.importer} → {made_up.imported}")


def test_allowed_imports_pass_every_rule():
    fine = [
        Import("warmray.sweep.trial", "warmray.stages.train", ("run",), "x:1"),
        Import("warmray.audit.run", "warmray.statistics", ("fit",), "x:1"),
        Import("warmray.statistics.study", "warmray.statistics.glm", ("fit",), "x:1"),
        Import("warmray.pipeline", "warmray.stages.analyze.study", (), "x:1"),
    ]
    assert layer_breaches(fine) + stage_breaches(fine) + inside_breaches(fine) == []


def test_function_level_and_type_checking_imports_are_read(tmp_path, monkeypatch):
    module = tmp_path / "warmray" / "tasks" / "late.py"
    module.parent.mkdir(parents=True)
    (tmp_path / "warmray" / "stages" / "judge").mkdir(parents=True)
    (tmp_path / "warmray" / "stages" / "judge" / "__init__.py").write_text("")
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from warmray.config import JudgeConfig\n"
        "def f():\n    from warmray.stages import judge\n    return judge\n"
        "def g():\n    return importlib.import_module('warmray.stages.judge.grade')\n"
    )
    (tmp_path / "warmray" / "stages" / "judge" / "grade.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "warmray")
    found = {(i.imported, i.typing_only, i.by_name) for i in imports_of(module)}
    assert found == {
        ("warmray.config", True, False),
        ("warmray.stages.judge", False, False),
        ("warmray.stages.judge.grade", False, True),
    }


def test_a_module_named_in_a_string_is_read_as_its_import():
    read = named_import("warmray.cli", "warmray.sociot.measure:sociot", "x:1")
    assert read == Import("warmray.cli", "warmray.sociot.measure", ("sociot",), "x:1", by_name=True)
    (breach,) = inside_breaches([read])
    assert "named in a string" in breach
    assert named_import("warmray.cli", "warmray runs the study.", "x:1") is None

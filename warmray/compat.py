"""Every reach into Ray's or vLLM's private API, each named once with the versions it was written for.

warmray leans on a few names that Ray and vLLM do not promise to keep: two methods its engine hooks wrap
(warmray.infer.engine_hooks), the classes and fields those hooks read, two of `ray._private`'s constants
and its reader of the recorded cluster address, a processor option whose "no cap" value Ray 2.60
cannot take, and the error by which Ray says a joined cluster has no live node here. Each is a `Target`
in `TARGETS`; other modules reach them only through this module's names, never by importing them.

An upgrade can move any of them. `tests/test_compat.py` checks every target against the installed Ray and
vLLM and fails naming the one that moved (`problem`). At run time a moved target costs one line in the
log, and warmray takes the plain path, what Ray and vLLM do without warmray's change: slower, never
wrong. A changed error message (`NO_LOCAL_NODE`) costs only its specific explanation: the general one
is given instead.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

RAY = "ray 2.60.0"
VLLM = "vllm 0.32.0"
# Ray 2.60's processor reads a max_pending_requests <= 0 as "no cap" and then fails (its code names an
# `asyncio.NullContext` that does not exist), so "no cap" is a number above any actor's rows.
UNCAPPED_PENDING = 1_000_000
_MARK = "_warmray_wrapped"  # set on an installed wrapper, so that a second install leaves it alone


@dataclass(frozen=True)
class Target:
    """One name in Ray's or vLLM's private API that warmray relies on, and the shape it relies on.

    `parameters`: for a callable, the parameter names warmray passes or reads (None: not a callable).
    `fields`: for a class, the fields or attributes warmray reads or sets.
    `message`: text of an error the target raises that warmray recognises; its source must hold it.
    """

    module: str
    path: str  # attribute path inside the module: "Class.method", "CONSTANT"
    written_for: str  # the package and version this use was written against
    use: str  # what warmray does with it
    parameters: tuple[str, ...] | None = None
    fields: tuple[str, ...] = ()
    message: str = ""

    @property
    def name(self) -> str:
        """The target's full dotted name, as a failure names it."""
        return f"{self.module}.{self.path}"


_ENGINE_STAGE = "ray.llm._internal.batch.stages.vllm_engine_stage"
GENERATE_ASYNC = Target(
    _ENGINE_STAGE,
    "vLLMEngineWrapper._generate_async",
    RAY,
    "wrapped by the engine hook that asks vLLM for final outputs only",
    parameters=("self", "request"),
)
ENGINE_REQUEST = Target(
    _ENGINE_STAGE,
    "vLLMEngineRequest",
    RAY,
    "the engine hook sets its params' output kind",
    fields=("params",),
)
ADD_REQUEST = Target(
    "vllm.v1.engine.async_llm",
    "AsyncLLM.add_request",
    VLLM,
    "wrapped by the engine hook that puts the adapters' requests behind the base model's",
    parameters=("self", "lora_request", "priority"),
)
ENGINE_CONFIG = Target(
    "vllm.v1.engine.async_llm",
    "AsyncLLM.__init__",
    VLLM,
    "the engine hook reads the engine's vllm_config.scheduler_config.policy",
    parameters=("self", "vllm_config"),
)
VLLM_CONFIG = Target(
    "vllm.config", "VllmConfig", VLLM, "read by the engine hook", fields=("scheduler_config",)
)
SCHEDULER_CONFIG = Target(
    "vllm.config", "SchedulerConfig", VLLM, "read by the engine hook", fields=("policy",)
)
SAMPLING_PARAMS = Target(
    "vllm.sampling_params",
    "SamplingParams",
    VLLM,
    "the engine hook sets its output_kind",
    fields=("output_kind",),
)
FINAL_ONLY = Target(
    "vllm.sampling_params", "RequestOutputKind.FINAL_ONLY", VLLM, "the output kind the engine hook sets"
)
SETUP_HOOK_ENV = Target(
    "ray._private.ray_constants",
    "WORKER_PROCESS_SETUP_HOOK_ENV_VAR",
    RAY,
    "the variable by which an engine actor runs the engine hooks as it starts",
)
WORKER_NICENESS_ENV = Target(
    "ray._private.ray_constants",
    "RAY_WORKER_NICENESS",
    RAY,
    "the variable that starts a Ray worker at a normal niceness instead of 15",
)
READ_RAY_ADDRESS = Target(
    "ray._private.utils",
    "read_ray_address",
    RAY,
    "the address of the cluster `ray start` recorded on this machine",
    parameters=(),
)
PENDING_REQUESTS = Target(
    "ray.data.llm",
    "vLLMEngineProcessorConfig",
    RAY,
    "an engine scheduling by priority is handed every row its actor holds (UNCAPPED_PENDING)",
    fields=("max_pending_requests",),
)
# What Ray 2.60's ray.init raises, after a minute of looking, when the cluster it joins has no live node
# on this machine: a dead raylet (warmray.runtime.start_failure explains it).
NO_LOCAL_NODE = "No node info found matching attributes"
NODE_FOR_DRIVER = Target(
    "ray._private.services",
    "get_node_to_connect_for_driver",
    RAY,
    "its error for a joined cluster without a live node here is explained as a dead raylet",
    parameters=(),
    message=NO_LOCAL_NODE,
)
TARGETS = (
    GENERATE_ASYNC,
    ENGINE_REQUEST,
    ADD_REQUEST,
    ENGINE_CONFIG,
    VLLM_CONFIG,
    SCHEDULER_CONFIG,
    SAMPLING_PARAMS,
    FINAL_ONLY,
    SETUP_HOOK_ENV,
    WORKER_NICENESS_ENV,
    READ_RAY_ADDRESS,
    PENDING_REQUESTS,
    NODE_FOR_DRIVER,
)


class Moved(Exception):
    """A target is not where, or not what, warmray expects; the message names it and says how it differs."""


def _has_field(owner: Any, field: str) -> bool:
    # A pydantic model's fields are no class attributes; a dataclass field without a default neither.
    declared = {**getattr(owner, "model_fields", {}), **getattr(owner, "__dataclass_fields__", {})}
    return field in declared or hasattr(owner, field)


def resolve(target: Target) -> Any:
    """The target's object in the installed Ray or vLLM, checked against the shape warmray relies on.

    Raises:
        Moved: the module does not import, an attribute on the path is missing, or the object lacks a
            parameter or field warmray uses.
    """
    try:
        found: Any = importlib.import_module(target.module)
    except Exception as e:  # ImportError, or whatever a half-installed package raises on import
        raise Moved(f"{target.name}: module {target.module} does not import ({type(e).__name__}: {e})") from e
    for part in target.path.split("."):
        if not hasattr(found, part):
            raise Moved(f"{target.name}: no attribute {part!r}")
        found = getattr(found, part)
    try:
        _check_shape(target, found)
    except (ValueError, TypeError, OSError) as e:  # no signature or no source to read: cannot tell
        raise Moved(f"{target.name}: its shape cannot be read ({type(e).__name__}: {e})") from e
    return found


def _check_shape(target: Target, found: Any) -> None:
    if target.parameters is not None:
        if not callable(found):
            raise Moved(f"{target.name}: not callable")
        present = inspect.signature(found).parameters
        missing = [p for p in target.parameters if p not in present]
        if missing:
            raise Moved(f"{target.name}: no parameter {', '.join(missing)} (it takes {', '.join(present)})")
    missing = [f for f in target.fields if not _has_field(found, f)]
    if missing:
        raise Moved(f"{target.name}: no field {', '.join(missing)}")
    if target.message and target.message not in inspect.getsource(found):
        raise Moved(f"{target.name}: no longer raises {target.message!r}")


def installed(written_for: str) -> str:
    """The installed version of the package a target was written for ("ray 2.60.0" -> "ray 2.61.0")."""
    package = written_for.split()[0]
    try:
        return f"{package} {importlib.import_module(package).__version__}"
    except Exception:  # not installed, or no version to read
        return f"{package} (version unknown)"


def problem(target: Target) -> str | None:
    """Why the target does not hold in the installed packages, naming it; None when it holds."""
    try:
        resolve(target)
    except Moved as e:
        now = installed(target.written_for)
        return f"{e} (warmray's use, written for {target.written_for}, installed {now}: {target.use})"
    return None


def moved_line(error: Moved, plain: str) -> str:
    """The one log line for a moved target (pure): what moved and the plain path taken instead."""
    return f"warmray: {error}; {plain} (Ray or vLLM changed: the run is correct, maybe slower)"


_said: set[str] = set()


def _say_once(error: Moved, plain: str) -> None:
    # Once per process: a stage builds several engines, and each would say the same.
    line = moved_line(error, plain)
    if line not in _said:
        _said.add(line)
        log.warning("%s", line)


def _constant(target: Target, plain: str) -> str | None:
    try:
        value = resolve(target)
    except Moved as e:
        _say_once(e, plain)
        return None
    return value if isinstance(value, str) else None


def setup_hook_env(hook: str) -> dict[str, str]:
    """The environment variable by which Ray runs the function named `hook` in a worker as it starts.

    Ray's `worker_process_setup_hook` field is honoured only for a whole job (`ray.init`); in an actor's
    runtime_env it is ignored. What that field becomes on the way to a worker is this variable, which an
    actor's `env_vars` reach directly. Empty (and one line in the log) if this Ray has no such variable.
    """
    name = _constant(SETUP_HOOK_ENV, "the engine actors start without warmray's engine hooks")
    return {name: hook} if name else {}


def normal_niceness_env() -> dict[str, str]:
    """The environment variable that starts a Ray worker at niceness 0, Ray's own `worker_niceness`.

    Empty (and one line in the log) if this Ray no longer names it: its workers then run at Ray's 15.
    """
    name = _constant(WORKER_NICENESS_ENV, "Ray workers keep Ray's niceness")
    return {name: "0"} if name else {}


def recorded_ray_address() -> str | None:
    """The address of the cluster `ray start` recorded on this machine; None when none is recorded.

    None (and one line in the log) if this Ray no longer reads it where warmray expects.
    """
    plain = "a cluster started with `ray start` is joined only through ray.address or RAY_ADDRESS"
    try:
        read = resolve(READ_RAY_ADDRESS)
        return read() or None
    except Moved as e:
        _say_once(e, plain)
    except Exception as e:  # the reader's own contract changed (an argument it now requires, say)
        _say_once(Moved(f"{READ_RAY_ADDRESS.name}: {type(e).__name__}: {e}"), plain)
    return None


def pending_requests_option(cap: int | None) -> dict[str, int]:
    """The processor config's `max_pending_requests` entry for `cap` ({} for Ray's default, None).

    Empty (and one line in the log) if this Ray's processor config has no such field: Ray's cap then holds.
    """
    if cap is None:
        return {}
    try:
        resolve(PENDING_REQUESTS)
    except Moved as e:
        _say_once(e, "each engine takes Ray's default number of pending requests")
        return {}
    return {"max_pending_requests": cap}


def wrap(target: Target, make: Callable[[Any], Callable[..., Any]]) -> bool:
    """Replace a method target by `make(original)`, once; whether it was replaced now.

    The target must already be resolved (`resolve`): this only installs. A second call finds the first
    wrapper and leaves it.
    """
    owner_path, _, attribute = target.path.rpartition(".")
    owner: Any = importlib.import_module(target.module)
    for part in owner_path.split("."):
        owner = getattr(owner, part)
    original = getattr(owner, attribute)
    if getattr(original, _MARK, False):
        return False
    # The wrapper carries the original's name and signature (__wrapped__), so the target still checks.
    wrapper = functools.update_wrapper(make(original), original)
    setattr(wrapper, _MARK, True)
    setattr(owner, attribute, wrapper)
    return True

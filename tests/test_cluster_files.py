"""The cluster files (cluster/*.yaml): structure, and agreement with pyproject.toml and the paper config.

Nothing here starts a cluster. These files are meant for GPU clusters that no test reaches, so the
tests catch what can be caught offline: a runtime env that Ray would reject, a launcher config that
fails Ray's own schema, pins that drift from pyproject.toml, a RayJob without GPUs or shared storage,
and a secret written into a committed file.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from ray.runtime_env import RuntimeEnv

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "cluster"
SHARED = "/mnt/shared"
# Ray sets this while it builds a job's env on a node: the path of the unpacked working dir.
WORKING_DIR_VAR = "${RAY_RUNTIME_ENV_CREATE_WORKING_DIR}"


def _load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


@pytest.fixture(scope="module")
def runtime_env() -> dict:
    return _load("runtime_env.yaml")


# Every Ray cluster launcher config under cluster/ (AWS, GCP): each must pass every launcher test.
LAUNCHERS = sorted(
    p.name for p in CLUSTER.glob("*.yaml") if "available_node_types" in (yaml.safe_load(p.read_text()) or {})
)


@pytest.fixture(scope="module", params=LAUNCHERS)
def launcher(request) -> dict:
    return _load(request.param)


@pytest.fixture(scope="module")
def rayjob() -> dict:
    return _load("rayjob.yaml")


@pytest.fixture(scope="module")
def rayjob_env(rayjob) -> dict:
    return yaml.safe_load(rayjob["spec"]["runtimeEnvYAML"])


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pins(requirements: list[str]) -> dict[tuple[str, frozenset[str]], SpecifierSet]:
    """Requirement strings keyed by (normalized name, extras): ray[llm] and ray[default,...] stay apart."""
    pins: dict[tuple[str, frozenset[str]], SpecifierSet] = {}
    for line in requirements:
        req = Requirement(line)
        key = (canonicalize_name(req.name), frozenset(req.extras))
        assert key not in pins, f"{line!r} is listed twice"
        pins[key] = req.specifier
    return pins


def _pip_packages(env: dict) -> list[str]:
    pip = env["pip"]
    return pip["packages"] if isinstance(pip, dict) else pip


def _pinned_packages(env: dict) -> list[str]:
    """The pip list without the line that installs the project itself."""
    return [p for p in _pip_packages(env) if p != WORKING_DIR_VAR]


def _ray_version(pyproject: dict) -> str:
    for line in pyproject["project"]["dependencies"]:
        req = Requirement(line)
        if req.name == "ray":
            (spec,) = req.specifier
            assert spec.operator == "==", "ray must be pinned exactly"
            return spec.version
    raise AssertionError("pyproject.toml does not depend on ray")


def _ray_pods(rayjob: dict) -> list[tuple[str, dict]]:
    """(group name, pod spec) for the head and every worker group."""
    cluster = rayjob["spec"]["rayClusterSpec"]
    pods = [("head", cluster["headGroupSpec"]["template"]["spec"])]
    pods += [(g["groupName"], g["template"]["spec"]) for g in cluster["workerGroupSpecs"]]
    return pods


def _mount_path(pod: dict, container: dict, volume_kind: str) -> list[str]:
    """Where a container mounts the pod's volumes of one kind (e.g. persistentVolumeClaim)."""
    names = {v["name"] for v in pod.get("volumes", []) if volume_kind in v}
    return [m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in names]


def _paper_run_dir() -> str:
    return yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())["run_dir"]


# --- runtime_env.yaml -------------------------------------------------------------------------


def test_runtime_env_keys_are_accepted_by_ray_RuntimeEnv(runtime_env):
    unknown = set(runtime_env) - RuntimeEnv.known_fields
    assert not unknown, f"keys Ray does not know: {unknown}"
    env = RuntimeEnv(**runtime_env)  # validates pip, env_vars, excludes, config; installs nothing
    assert env["working_dir"] == "."
    assert env["pip"]["packages"] == _pip_packages(runtime_env)
    assert env["config"]["setup_timeout_seconds"] >= 600


def test_runtime_env_pins_equal_pyproject_core_dependencies_plus_gpu_extra(runtime_env, pyproject):
    project = pyproject["project"]
    expected = _pins(project["dependencies"] + project["optional-dependencies"]["gpu"])
    assert _pins(_pinned_packages(runtime_env)) == expected


def test_runtime_env_never_mixes_in_the_cpu_extra(runtime_env, pyproject):
    cpu_extra = pyproject["project"]["optional-dependencies"]["cpu"]
    cpu = {canonicalize_name(Requirement(r).name) for r in cpu_extra}
    listed = {canonicalize_name(Requirement(r).name) for r in _pinned_packages(runtime_env)}
    assert not cpu & listed


def test_runtime_env_installs_the_project_from_the_uploaded_working_dir(runtime_env):
    packages = _pip_packages(runtime_env)
    # pip runs in an empty scratch folder, so "." / "-e ." would not be this project.
    assert not [p for p in packages if re.fullmatch(r"(-e\s*|--editable[=\s]\s*)?\./?", p)]
    assert packages.count(WORKING_DIR_VAR) == 1
    assert runtime_env["working_dir"] == "."


def test_runtime_env_upload_leaves_out_venv_runs_and_test_artifacts_but_keeps_the_code(runtime_env):
    # The matcher `ray job submit` applies to working_dir (gitignore syntax, relative to the root).
    from ray._private.runtime_env.packaging import _get_excludes

    excluded = _get_excludes(ROOT, runtime_env["excludes"])
    for path in (".venv/bin/python", "runs/demo/corpus/manifest.json", "test-artifacts/x.log", ".git/HEAD"):
        assert excluded(ROOT / path), f"{path} would be uploaded"
    for path in ("warmray/cli.py", "warmray/prompts", "configs/paper.yaml", "pyproject.toml"):
        assert not excluded(ROOT / path), f"{path} would be left out"


def test_runtime_env_keeps_caches_on_shared_storage_and_holds_no_secrets(runtime_env):
    env_vars = runtime_env["env_vars"]
    assert env_vars["HF_HOME"].startswith(SHARED + "/")
    assert env_vars["WARMRAY_CACHE"].startswith(SHARED + "/")
    secretish = [k for k in env_vars if re.search(r"(^|_)(TOKEN|KEY|SECRET|PASSWORD)(_|$)", k)]
    assert not secretish, f"secrets come from the cluster's secret store, not this file: {secretish}"


# --- gpu-cluster.yaml, gpu-cluster-gcp.yaml (Ray cluster launcher) ----------------------------


def test_there_is_a_launcher_config_for_aws_and_for_gcp():
    providers = {_load(name)["provider"]["type"] for name in LAUNCHERS}
    assert {"aws", "gcp"} <= providers, LAUNCHERS


def test_launcher_config_passes_rays_own_schema(launcher):
    # The steps `ray up` runs before it touches the cloud: merge the provider's defaults, then validate.
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(launcher)))


def test_launcher_has_a_cpu_head_and_1_gpu_and_8_gpu_worker_types(launcher):
    types = launcher["available_node_types"]
    head = launcher["head_node_type"]
    assert head in types
    assert types[head]["resources"].get("GPU", 0) == 0
    workers = {name: t for name, t in types.items() if name != head}
    gpus = {name: t["resources"].get("GPU", 0) for name, t in workers.items()}
    assert 1 in gpus.values(), "no 1-GPU worker type (8B: one GPU per Ray Train worker)"
    assert 8 in gpus.values(), "no 8-GPU worker type (70B: FSDP and vLLM tensor parallel in one node)"
    for name, t in workers.items():
        assert 0 <= t.get("min_workers", 0) <= t["max_workers"] <= launcher["max_workers"], name
        if gpus[name]:
            assert "--gpus all" in t["docker"]["worker_run_options"], name


def test_launcher_mounts_shared_storage_at_mnt_shared_on_every_node(launcher):
    init = " ".join(launcher["initialization_commands"])
    assert re.search(rf"mount -t (nfs4?|lustre)\b.* {SHARED}\b", init), "no network mount of /mnt/shared"
    assert f"-v {SHARED}:{SHARED}" in launcher["docker"]["run_options"]
    # folders warmray writes to, created on the shared volume
    assert f"{SHARED}/runs" in init and f"{SHARED}/hf-cache" in init
    assert any(SHARED in c for c in launcher["setup_commands"]), "no check that the mount is really there"


def test_launcher_turns_on_token_auth_with_one_token_on_every_node(launcher):
    assert "-e RAY_AUTH_MODE=token" in launcher["docker"]["run_options"]
    assert launcher["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"


def test_launcher_loads_secrets_from_an_uncommitted_file_before_ray_start(launcher):
    secrets = "~/.warmray/secrets.env"
    assert launcher["file_mounts"][secrets] == secrets
    for commands in (launcher["head_start_ray_commands"], launcher["worker_start_ray_commands"]):
        start = next(c for c in commands if "ray start" in c)
        assert start.index(secrets) < start.index("ray start")


def test_launcher_image_is_ray_llm_at_the_pinned_ray_version(launcher, pyproject):
    repo, tag = launcher["docker"]["image"].split(":")
    assert repo == "rayproject/ray-llm"
    assert tag.startswith(_ray_version(pyproject) + "-")


def test_launcher_hf_home_agrees_with_the_runtime_env(launcher, runtime_env):
    assert f"-e HF_HOME={runtime_env['env_vars']['HF_HOME']}" in launcher["docker"]["run_options"]


def test_gcp_gpu_nodes_terminate_on_host_maintenance(launcher):
    if launcher["provider"]["type"] != "gcp":
        pytest.skip("GCP only: GPU VMs cannot live-migrate")
    for name, t in launcher["available_node_types"].items():
        if t["resources"].get("GPU"):
            assert {"onHostMaintenance": "TERMINATE"} in t["node_config"]["scheduling"], name


@pytest.mark.parametrize("name", LAUNCHERS)
@pytest.mark.parametrize("config", ["paper.yaml", "paper-open.yaml"])
def test_warmray_plan_fits_both_paper_configs_on_every_launcher_config(name, config):
    from warmray.config import ExperimentConfig
    from warmray.plan import build_plan
    from warmray.plan.hardware import cluster_from_launcher

    cluster = cluster_from_launcher(CLUSTER / name)
    assert cluster.gpus_per_node == 8 and cluster.memory_gib >= 79
    cfg = ExperimentConfig.model_validate(yaml.safe_load((ROOT / "configs" / config).read_text()))
    assert build_plan(cfg, cluster).gpu_hours > 0


# --- rayjob.yaml (KubeRay) --------------------------------------------------------------------


def test_rayjob_is_a_ray_io_v1_RayJob(rayjob):
    assert rayjob["apiVersion"] == "ray.io/v1"
    assert rayjob["kind"] == "RayJob"
    assert rayjob["spec"]["submissionMode"] in ("K8sJobMode", "HTTPMode", "SidecarMode")


def test_rayjob_entrypoint_runs_the_paper_config_into_its_shared_run_dir(rayjob):
    entrypoint = rayjob["spec"]["entrypoint"]
    m = re.search(r"warmray run (\S+) --run-dir (\S+)", entrypoint)
    assert m, entrypoint
    config, run_dir = m.groups()
    assert (ROOT / config).is_file()
    assert run_dir == _paper_run_dir()
    assert run_dir.startswith(SHARED + "/")


def test_rayjob_has_a_gpu_worker_group(rayjob):
    groups = rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    gpus = [
        int(c["resources"]["limits"].get("nvidia.com/gpu", 0))
        for g in groups
        for c in g["template"]["spec"]["containers"]
    ]
    assert max(gpus) >= 1


def test_rayjob_mounts_the_pvc_at_mnt_shared_in_every_ray_pod(rayjob):
    for group, pod in _ray_pods(rayjob):
        ray_container = pod["containers"][0]
        assert _mount_path(pod, ray_container, "persistentVolumeClaim") == [SHARED], group


def test_rayjob_deletes_its_cluster_after_the_job_with_a_ttl(rayjob):
    spec = rayjob["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    assert isinstance(spec["ttlSecondsAfterFinished"], int) and spec["ttlSecondsAfterFinished"] > 0


def test_rayjob_takes_the_hf_token_from_a_kubernetes_secret(rayjob):
    for group, pod in _ray_pods(rayjob):
        env = {e["name"]: e for e in pod["containers"][0].get("env", [])}
        assert "HF_TOKEN" in env, group
        assert "value" not in env["HF_TOKEN"], f"{group}: a literal HF_TOKEN in a committed file"
        assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["name"], group


def test_rayjob_uses_token_auth_at_the_pinned_ray_version(rayjob, pyproject):
    cluster = rayjob["spec"]["rayClusterSpec"]
    version = _ray_version(pyproject)
    assert cluster["rayVersion"] == version
    assert cluster["authOptions"]["mode"] == "token"
    submitter = rayjob["spec"]["submitterPodTemplate"]["spec"]
    pods = [pod for _, pod in _ray_pods(rayjob)] + [submitter]
    for pod in pods:
        for c in pod.get("initContainers", []) + pod["containers"]:
            assert c["image"].split(":")[1].startswith(version + "-"), c["name"]


def test_rayjob_runtime_env_is_runtime_env_yaml_without_the_project_install(rayjob, rayjob_env, runtime_env):
    # Ray checks that a local working_dir exists; this one exists only inside the submitter pod.
    RuntimeEnv(**{**rayjob_env, "working_dir": str(ROOT)})
    assert _pinned_packages(rayjob_env) == _pinned_packages(runtime_env)
    assert WORKING_DIR_VAR not in _pip_packages(rayjob_env)
    assert rayjob_env["env_vars"] == runtime_env["env_vars"]
    # KubeRay runs `ray job submit --runtime-env-json "..."` through bash: a "$" would be expanded.
    assert "$" not in rayjob["spec"]["runtimeEnvYAML"]
    assert "python -m warmray run" in rayjob["spec"]["entrypoint"]


def test_rayjob_submitter_uploads_the_source_it_unpacks(rayjob, rayjob_env):
    pod = rayjob["spec"]["submitterPodTemplate"]["spec"]
    working_dir = Path(rayjob_env["working_dir"])
    assert working_dir.is_absolute()
    (unpack,) = pod["initContainers"]
    assert f"-C {working_dir}" in " ".join(unpack["command"])
    submitter = pod["containers"][0]
    assert "command" not in submitter, "KubeRay fills in `ray job submit` only when no command is set"
    shared_dirs = _mount_path(pod, submitter, "emptyDir")
    assert any(working_dir.is_relative_to(d) for d in shared_dirs)
    assert any(working_dir.is_relative_to(d) for d in _mount_path(pod, unpack, "emptyDir"))


# --- all files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in CLUSTER.iterdir() if p.suffix in (".yaml", ".md")))
def test_no_cluster_file_holds_a_credential(name):
    text = (CLUSTER / name).read_text()
    assert not re.search(r"\bhf_[A-Za-z0-9]{20,}", text), "a Hugging Face token"
    assert not re.search(r"\bsk-[A-Za-z0-9_-]{20,}", text), "an OpenAI key"
    assert not re.search(r"^\s*(HF_TOKEN|OPENAI_API_KEY|RAY_AUTH_TOKEN)\s*[:=]\s*\S", text, re.M)

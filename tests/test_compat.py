"""warmray.compat against the installed Ray and vLLM: every private target is where warmray expects it.

When an upgrade moves one, `test_every_private_target_is_where_warmray_expects_it` fails naming it; the
monkeypatched tests below show that it would, and that at run time a moved target costs one log line and
the plain path, never a traceback.
"""

import logging

import pytest

from warmray import compat

LOGGER = "warmray.compat"


@pytest.fixture(autouse=True)
def fresh_log_memory(monkeypatch):
    """Each test starts as a fresh process would, having said nothing yet."""
    monkeypatch.setattr(compat, "_said", set())


def owner_and_attribute(target: compat.Target):
    owner_path, _, attribute = target.path.rpartition(".")
    owner = __import__(target.module, fromlist=["_"])
    for part in filter(None, owner_path.split(".")):
        owner = getattr(owner, part)
    return owner, attribute


@pytest.mark.parametrize("target", compat.TARGETS, ids=lambda t: t.name)
def test_every_private_target_is_where_warmray_expects_it(target):
    assert compat.problem(target) is None


def test_every_target_states_the_versions_it_was_written_for():
    assert {t.written_for for t in compat.TARGETS} == {compat.RAY, compat.VLLM}
    assert len({t.name for t in compat.TARGETS}) == len(compat.TARGETS)


def test_a_renamed_method_is_reported_by_its_name(monkeypatch):
    owner, attribute = owner_and_attribute(compat.GENERATE_ASYNC)
    monkeypatch.delattr(owner, attribute)
    found = compat.problem(compat.GENERATE_ASYNC)
    assert found is not None and compat.GENERATE_ASYNC.name in found and "'_generate_async'" in found
    assert f"written for {compat.RAY}, installed ray " in found


def test_a_renamed_constant_is_reported_by_its_name(monkeypatch):
    owner, attribute = owner_and_attribute(compat.SETUP_HOOK_ENV)
    monkeypatch.delattr(owner, attribute)
    assert "ray._private.ray_constants.WORKER_PROCESS_SETUP_HOOK_ENV_VAR" in compat.problem(
        compat.SETUP_HOOK_ENV
    )


def test_a_method_that_lost_a_parameter_warmray_passes_is_reported(monkeypatch):
    owner, attribute = owner_and_attribute(compat.ADD_REQUEST)

    async def add_request(self, request_id, prompt, params, lora_request=None):  # no `priority`
        return None

    monkeypatch.setattr(owner, attribute, add_request)
    found = compat.problem(compat.ADD_REQUEST)
    assert found is not None and "AsyncLLM.add_request" in found and "no parameter priority" in found


def test_a_class_that_lost_a_field_is_reported(monkeypatch):
    owner, attribute = owner_and_attribute(compat.PENDING_REQUESTS)
    config = getattr(owner, attribute)
    fields = {k: v for k, v in config.model_fields.items() if k != "max_pending_requests"}
    monkeypatch.setattr(config, "model_fields", fields)
    found = compat.problem(compat.PENDING_REQUESTS)
    assert found is not None and "vLLMEngineProcessorConfig: no field max_pending_requests" in found


def test_an_error_message_warmray_recognises_is_reported_when_it_changes(monkeypatch):
    owner, attribute = owner_and_attribute(compat.NODE_FOR_DRIVER)

    def get_node_to_connect_for_driver(*args, **kwargs):
        raise ValueError("a reworded error")

    monkeypatch.setattr(owner, attribute, get_node_to_connect_for_driver)
    found = compat.problem(compat.NODE_FOR_DRIVER)
    assert found is not None and "get_node_to_connect_for_driver: no longer raises" in found


def test_a_missing_module_is_reported_by_the_target_name():
    gone = compat.Target("ray._private.no_such_module", "read_ray_address", compat.RAY, "a test", ())
    found = compat.problem(gone)
    assert found is not None and found.startswith("ray._private.no_such_module.read_ray_address: module")


def one_warning(caplog) -> logging.LogRecord:
    records = [r for r in caplog.records if r.name == LOGGER]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING and records[0].exc_info is None
    assert "\n" not in records[0].getMessage()
    return records[0]


def test_a_moved_setup_hook_variable_leaves_engines_without_hooks_and_says_so_once(monkeypatch, caplog):
    owner, attribute = owner_and_attribute(compat.SETUP_HOOK_ENV)
    monkeypatch.delattr(owner, attribute)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert compat.setup_hook_env("a.hook") == {}
        assert compat.setup_hook_env("a.hook") == {}  # a second engine says nothing more
    line = one_warning(caplog).getMessage()
    assert "WORKER_PROCESS_SETUP_HOOK_ENV_VAR" in line and "without warmray's engine hooks" in line


def test_a_moved_niceness_variable_leaves_ray_s_niceness_and_says_so_once(monkeypatch, caplog):
    assert compat.normal_niceness_env() == {"RAY_worker_niceness": "0"}
    owner, attribute = owner_and_attribute(compat.WORKER_NICENESS_ENV)
    monkeypatch.delattr(owner, attribute)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert compat.normal_niceness_env() == {}
    assert "RAY_WORKER_NICENESS" in one_warning(caplog).getMessage()


def test_a_moved_address_reader_means_no_recorded_cluster_and_one_line(monkeypatch, caplog):
    owner, attribute = owner_and_attribute(compat.READ_RAY_ADDRESS)
    monkeypatch.delattr(owner, attribute)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert compat.recorded_ray_address() is None
    assert "read_ray_address" in one_warning(caplog).getMessage()


def test_an_address_reader_that_now_wants_an_argument_means_no_recorded_cluster(monkeypatch, caplog):
    owner, attribute = owner_and_attribute(compat.READ_RAY_ADDRESS)
    monkeypatch.setattr(owner, attribute, lambda temp_dir: None)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert compat.recorded_ray_address() is None
    assert "TypeError" in one_warning(caplog).getMessage()


def test_the_recorded_address_is_ray_s_own_reading(monkeypatch):
    owner, attribute = owner_and_attribute(compat.READ_RAY_ADDRESS)
    monkeypatch.setattr(owner, attribute, lambda temp_dir=None: "127.0.0.1:6379")
    assert compat.recorded_ray_address() == "127.0.0.1:6379"
    monkeypatch.setattr(owner, attribute, lambda temp_dir=None: None)
    assert compat.recorded_ray_address() is None


def test_the_pending_cap_is_passed_only_where_ray_takes_it(monkeypatch, caplog):
    assert compat.pending_requests_option(None) == {}
    assert compat.pending_requests_option(compat.UNCAPPED_PENDING) == {"max_pending_requests": 1_000_000}
    owner, attribute = owner_and_attribute(compat.PENDING_REQUESTS)
    monkeypatch.delattr(owner, attribute)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert compat.pending_requests_option(compat.UNCAPPED_PENDING) == {}
    assert "vLLMEngineProcessorConfig" in one_warning(caplog).getMessage()

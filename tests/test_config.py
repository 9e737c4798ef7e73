from __future__ import annotations

from pathlib import Path

import pytest

from ebb.config import ConfigError, load_settings


def test_defaults_are_safe() -> None:
    settings = load_settings({})
    assert settings.host == "127.0.0.1"
    assert settings.http_port is None and settings.grpc_port is None
    assert not settings.autoscaling


def test_bad_value_is_one_line_naming_flag_variable_and_range() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({"max_batch_size": 0})
    message = str(error.value)
    assert "\n" not in message
    assert "--max-batch-size" in message and "EBB_MAX_BATCH_SIZE" in message
    assert "greater than or equal to 1" in message


def test_precedence_flags_over_environment_over_file(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ebb.toml"
    config.write_text('[serve]\nmax-queue-size = 10\nworkers = 3\nslo-ms = 250\n')
    monkeypatch.setenv("EBB_WORKERS", "5")
    settings = load_settings({"slo_ms": 50.0}, config)
    assert settings.max_queue_size == 10
    assert settings.workers == 5
    assert settings.slo_ms == 50.0


def test_yaml_file_and_cross_field_error(tmp_path: Path) -> None:
    config = tmp_path / "ebb.yaml"
    config.write_text("min_workers: 4\nmax_workers: 2\n")
    with pytest.raises(ConfigError, match=r"min_workers \(4\) is above max_workers \(2\)"):
        load_settings({}, config)


def test_unknown_setting_in_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "ebb.toml"
    config.write_text("max_batch = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key max_batch in ebb\.toml"):
        load_settings({}, config)


def test_config_file_typo_names_the_key_and_the_closest_real_one(tmp_path: Path) -> None:
    config = tmp_path / "ebb.toml"
    config.write_text("max_worker = 4\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({}, config)
    assert str(caught.value) == ("unknown key max_worker in ebb.toml; did you mean "
                                 "max_workers?")
    config.write_text("[serve]\nzzz-top = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({}, config)
    assert str(caught.value) == "unknown key zzz_top in ebb.toml"


def test_policy_knobs_are_typed_and_checked_against_the_policy() -> None:
    settings = load_settings({"policy": "kpa", "policy_options": {"container_concurrency": "2"}})
    assert settings.policy_options == {"container_concurrency": 2}
    with pytest.raises(ConfigError) as caught:
        load_settings({"policy": "kpa", "policy_options": {"container_concurrency": "abc"}})
    assert str(caught.value) == ("invalid --policy-option: knob container_concurrency of policy "
                                 "'kpa' takes a whole number, got 'abc'")
    with pytest.raises(ConfigError, match="unknown policy 'cpu'; known: ebb, hpa"):
        load_settings({"policy": "cpu"})


def test_no_worker_without_autoscaling_is_refused() -> None:
    with pytest.raises(ConfigError, match="--workers 0 needs autoscaling"):
        load_settings({"workers": 0})
    with pytest.raises(ConfigError, match="no worker would ever run"):
        load_settings({"min_workers": 0, "max_workers": 0})
    assert load_settings({"workers": 0, "max_workers": 2}).initial_workers == 0


def test_ignored_autoscaling_flags_and_scale_to_zero_are_warned_about() -> None:
    from ebb.config import ignored_settings

    (warning,) = ignored_settings(load_settings({"policy": "kpa", "slo_ms": 50.0}))
    assert warning.startswith("--policy, --slo-ms ignored: autoscaling is off")
    (note,) = ignored_settings(load_settings({"max_workers": 4}))
    assert "scales to zero" in note and "--min-workers 1" in note
    assert ignored_settings(load_settings({"min_workers": 1, "max_workers": 4})) == []
    assert ignored_settings(load_settings({})) == []


def test_policy_options_may_name_their_policy_as_in_ebb_sim() -> None:
    settings = load_settings({"policy": "kpa", "max_workers": 2,
                              "policy_options": {"kpa.container_concurrency": "2"}})
    assert settings.policy_options == {"container_concurrency": 2}
    with pytest.raises(ConfigError, match="sets a knob of policy 'hpa', but the policy "
                                          "served is 'kpa'"):
        load_settings({"policy": "kpa", "policy_options": {"hpa.target": "2"}})


def test_log_format_access_log_and_cast_inputs_settings() -> None:
    settings = load_settings({"log_format": "json", "access_log": True, "cast_inputs": True})
    assert (settings.log_format, settings.access_log, settings.cast_inputs) == ("json", True,
                                                                                True)
    with pytest.raises(ConfigError, match="--log-format"):
        load_settings({"log_format": "xml"})

"""Settings and limits: parsed from the environment, bad values named."""
import pytest

from labapp.config import ConfigError, NodeLimits, Settings, parse_bytes


@pytest.mark.parametrize("text,expected", [
    ("512m", 512 * 1024**2), ("1g", 1024**3), ("1GiB", 1024**3), ("1.5g", int(1.5 * 1024**3)),
    ("2048", 2048), ("64k", 64 * 1024), (" 256M ", 256 * 1024**2),
])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "-1g", "0", "1t", "1 g b"])
def test_parse_bytes_refuses_what_is_not_a_size(text):
    with pytest.raises(ConfigError, match="is not a size"):
        parse_bytes(text)


def test_settings_from_env_reads_labapp_variables():
    settings = Settings.from_env({"LABAPP_NODE_MEMORY": "768m", "LABAPP_NODE_PIDS": "4096",
                                  "LABAPP_SUBNET_POOL": "10.200.0.0/16", "UNRELATED": "x"})
    assert settings.limits() == NodeLimits(memory=768 * 1024**2, pids=4096, cpus=1.0)
    assert settings.subnet_pool == "10.200.0.0/16"


def test_defaults_are_sane():
    limits = Settings.from_env({}).limits()
    assert limits.memory == 512 * 1024**2 and limits.pids == 2048 and limits.cpus == 1.0


@pytest.mark.parametrize("env,message", [
    ({"LABAPP_NODE_MEMORY": "64m"}, "at least 128m"),
    ({"LABAPP_NODE_PIDS": "100"}, "at least 256"),
    ({"LABAPP_NODE_CPUS": "0"}, "above 0"),
    ({"LABAPP_NODE_PIDS": "many"}, "whole number"),
])
def test_bad_limits_say_what_to_fix(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env).limits()

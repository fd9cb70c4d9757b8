"""What a test needs from the machine: a missing need skips it on a developer's machine and fails it
under CI, with a message naming what is missing and how to install it."""

import pytest

from tests.needs import Need

ABSENT = Need("a flux capacitor", "apt-get install -y flux-capacitor", lambda: "no `flux` on PATH")
PRESENT = Need("a screwdriver", "apt-get install -y screwdriver", lambda: None)


def test_a_missing_need_skips_the_test_locally_and_says_how_to_install_it(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        ABSENT.check()
    assert str(skipped.value) == (
        "needs a flux capacitor: no `flux` on PATH. To include it: apt-get install -y flux-capacitor"
    )


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_a_missing_need_fails_the_test_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception) as failed:
        ABSENT.check()
    message = str(failed.value)
    assert message.startswith("CI=true and this test needs a flux capacitor: no `flux` on PATH")
    assert "apt-get install -y flux-capacitor" in message


@pytest.mark.parametrize("value", [None, "true"])
def test_a_need_that_is_met_lets_the_test_run(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    PRESENT.check()


def test_the_probe_runs_once_however_many_tests_ask():
    calls = []
    need = Need("a probe", "nothing", lambda: calls.append(1))
    need.check()
    need.check()
    assert calls == [1]

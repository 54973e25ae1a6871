"""The setting's literal spells exactly the enum's values, which the e-mail channel uses."""

from __future__ import annotations

from typing import get_args

from tallybook.settings import Settings, SmtpSecurity


def test_the_setting_accepts_exactly_the_enum_values() -> None:
    field = Settings.model_fields["smtp_security"]
    assert set(get_args(field.annotation)) == {s.value for s in SmtpSecurity}
    assert field.default == SmtpSecurity.NONE

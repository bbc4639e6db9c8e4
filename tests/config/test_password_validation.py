"""Passwords chosen through Django's forms and commands (createsuperuser, changepassword, the admin)."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError


def test_a_common_password_is_refused():
    with pytest.raises(ValidationError) as refused:
        validate_password("password123")
    assert "too common" in " ".join(refused.value.messages)


def test_an_all_numeric_password_is_refused():
    with pytest.raises(ValidationError) as refused:
        validate_password("73914062858")
    assert "entirely numeric" in " ".join(refused.value.messages)


def test_a_long_uncommon_password_is_accepted():
    validate_password("violet-harbour-quietly-17")

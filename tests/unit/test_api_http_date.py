"""The Date header the API sends is what email.utils.formatdate(usegmt=True) would give."""

from __future__ import annotations

import email.utils

from lxc_docker.api.connection import http_date


def test_http_date_matches_email_utils():
    for when in (0, 784111777, 951782400.5, 1700000000, 4102444799):  # 29 Feb 2000 among them
        assert http_date(when) == email.utils.formatdate(when, usegmt=True)


def test_http_date_now_is_well_formed():
    text = http_date()
    assert text.endswith(" GMT") and len(text) == 29

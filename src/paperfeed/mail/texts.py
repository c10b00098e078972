"""The plain-text link mails (sign-up verification, password reset, sign-up with an address
that has an account, digest confirmation): Jinja2 templates in ``mail/templates``, one a
mail, rendered by :func:`link_mail`. No autoescape: the mails are text/plain only."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from paperfeed.config import Settings
from paperfeed.mail import Mail


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("paperfeed.mail", "templates"),
        autoescape=False,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )


def link_mail(settings: Settings, to: str, subject: str, template: str, **values: Any) -> Mail:
    """The mail to ``to`` whose text is ``mail/templates/<template>.txt``, rendered with
    ``settings``, the site's address without a trailing slash (``base``) and ``values``."""
    text = (
        _environment()
        .get_template(f"{template}.txt")
        .render(settings=settings, base=settings.base_url.rstrip("/"), **values)
    )
    return Mail(to, subject, text)

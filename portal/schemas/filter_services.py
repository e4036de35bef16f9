"""Filter services (issue 17): ClamAV (clamd) and SpamAssassin (spamd) on the gateway, a Postern extension."""

from __future__ import annotations

from pydantic import Field

from .common import ApiModel, OutModel


class SelfTestOut(OutModel):
    ok: bool = Field(description="The service found its test sample (EICAR for ClamAV, GTUBE for SpamAssassin)")
    detail: str = Field(description="What the service answered, or why the test could not run")


class ServiceOut(OutModel):
    name: str = Field(description="clamav or spamassassin")
    running: bool = Field(description="The service answered PING on its socket")
    version: str | None = Field(None, description="What the service reports (clamd VERSION, spamd's protocol)")
    self_test: SelfTestOut


class ServiceSwitchIn(ApiModel):
    enabled: bool


class ServiceSwitchOut(OutModel):
    name: str
    enabled: bool = Field(description="What was asked: the command that starts (true) or stops (false) it ran")
    exit_code: int
    output: str = Field(description="What the command printed (stdout and stderr, the first 4000 characters)")

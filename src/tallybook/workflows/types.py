"""What kind of workflow a row is, as stored (``workflows.type``).

The API's schemas spell the same values as a ``Literal`` (so the OpenAPI document keeps
them inline); a test checks that it matches the enum here.
"""

from __future__ import annotations

from enum import StrEnum


class WorkflowType(StrEnum):
    WEB_NAVIGATION = "web_navigation"
    INTERACTION = "interaction"
    VOICE_VIDEO = "voice_video"
    CHAT = "chat"
    USER_GENERATED = "user_generated"

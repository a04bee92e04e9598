"""The one base every policy model shares: frozen, and unknown keys are errors.

A typo in a risk policy (``max_postions: 3``) must stop the system, not be ignored
while the default of 5 silently applies.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

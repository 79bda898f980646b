"""COC's action keys stay as they were: opsdesk's own withdraw has none and is never reached."""

from __future__ import annotations

import pytest

from opsdesk.api.coc.keys import V1_KEYS, V2_KEYS, action_for
from opsdesk.auth.roles import Role
from opsdesk.core.errors import Conflict, ValidationFailed
from opsdesk.incidents.lifecycle import Action, Phase, allowed_actions


def test_withdraw_has_no_coc_key_and_the_mapping_is_unchanged() -> None:
    assert Action.WITHDRAW not in V2_KEYS and Action.WITHDRAW not in V1_KEYS
    assert V2_KEYS[Action.CLOSE] == "agreed" and V2_KEYS[Action.REOPEN] == "ReOpen"


@pytest.mark.parametrize("v1", [False, True])
def test_a_reporter_who_may_withdraw_still_gets_coc_answers(v1: bool) -> None:
    allowed = allowed_actions(Phase.NEW, Role.END_USER, is_reporter=True)
    assert allowed == [Action.WITHDRAW]
    with pytest.raises(Conflict) as refused:
        action_for("confirm", Phase.NEW, allowed, v1=v1)
    assert "possible now: none" in refused.value.message
    with pytest.raises(ValidationFailed):
        action_for("withdraw", Phase.NEW, allowed, v1=v1)

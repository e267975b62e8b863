"""The config checks plan.assumptions against the names the planner gives a value and a source."""

from warmray.config import PLAN_ASSUMPTIONS
from warmray.plan.assumptions import DEFAULTS


def test_the_config_knows_every_planner_assumption_by_name_in_order():
    assert tuple(a.name for a in DEFAULTS) == PLAN_ASSUMPTIONS

"""Plan-and-execute: a planner writes steps with dependencies, an inner agent runs each, a replanner
revises. `agent` is the strategy (`PlanExecute`); `plan` the plan, its parsers and its event kinds
(light: a viewer loads it alone).
"""

"""`household`: a small deterministic text world in the spirit of ALFWorld.

A room of receptacles (some open and close) holding objects; the agent goes to places,
opens, takes, puts, and cleans / heats / cools things with the sink, microwave and fridge.
A seeded generator makes goals of graded difficulty:
1: put an object in a receptacle; 2: the object must be clean, hot or cool first, and may
be inside something closed; 3: two objects, both hidden in closed receptacles.
Invalid actions answer "Nothing happens." as ALFWorld does; reward 1 when the goal holds.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import ClassVar

from ponder.envs.base import Env, Evaluation
from ponder.errors import ConfigError
from ponder.types import Task

NOTHING = "Nothing happens."
ACTIONS_HELP = (
    "Actions: look, inventory, go to <place>, open <place>, close <place>, take <object> from <place>, "
    "put <object> in/on <place>, clean <object> with <sinkbasin>, heat <object> with <microwave>, "
    "cool <object> with <fridge>, examine <thing>."
)


@dataclass(frozen=True)
class _Room:
    kind: str
    places: tuple[str, ...]
    openable: frozenset[str]
    surfaces: tuple[str, ...]  # open places where visible objects start
    objects: tuple[str, ...]
    targets: tuple[str, ...]  # where goals may ask to put things


KITCHEN = _Room(
    kind="kitchen",
    places=(
        "cabinet 1",
        "cabinet 2",
        "cabinet 3",
        "coffeemachine 1",
        "countertop 1",
        "countertop 2",
        "diningtable 1",
        "drawer 1",
        "drawer 2",
        "fridge 1",
        "garbagecan 1",
        "microwave 1",
        "shelf 1",
        "sinkbasin 1",
        "stoveburner 1",
    ),
    openable=frozenset({"cabinet", "drawer", "fridge", "microwave"}),
    surfaces=("countertop 1", "countertop 2", "diningtable 1", "shelf 1"),
    objects=("apple", "bowl", "bread", "cup", "egg", "lettuce", "mug", "plate", "potato", "tomato"),
    targets=("cabinet 1", "coffeemachine 1", "countertop 1", "diningtable 1", "fridge 1", "shelf 1"),
)
BATHROOM = _Room(
    kind="bathroom",
    places=(
        "cabinet 1",
        "cabinet 2",
        "countertop 1",
        "drawer 1",
        "garbagecan 1",
        "shelf 1",
        "sinkbasin 1",
        "toilet 1",
        "towelholder 1",
    ),
    openable=frozenset({"cabinet", "drawer"}),
    surfaces=("countertop 1", "shelf 1", "toilet 1"),
    objects=("candle", "cloth", "soapbar", "spraybottle", "toiletpaper"),
    targets=("cabinet 1", "countertop 1", "drawer 1", "garbagecan 1", "shelf 1", "toilet 1"),
)
ROOMS = (KITCHEN, BATHROOM)
_PROPERTY_TOOL = {"clean": "sinkbasin", "hot": "microwave", "cool": "fridge"}
_VERB = {"clean": "clean", "hot": "heat", "cool": "cool"}


@dataclass(frozen=True)
class Goal:
    """Put `count` objects of `kind` (with `prop` if given: clean, hot, cool) in/on `target`."""

    kind: str
    target: str
    prop: str | None = None
    count: int = 1

    def text(self) -> str:
        adj = f"{self.prop} " if self.prop else ""
        plural = self.kind + ("es" if self.kind.endswith("o") else "s")
        thing = f"two {adj}{plural}" if self.count == 2 else f"a {adj}{self.kind}"
        return f"put {thing} in {self.target}"


@dataclass
class World:
    """The state of one episode."""

    room: _Room
    goal: Goal
    contents: dict[str, list[str]]
    opened: dict[str, bool]
    props: dict[str, set[str]] = field(default_factory=dict)
    at: str | None = None
    holding: str | None = None

    def copy(self) -> World:
        """This episode's state, copied to change independently (the room and the goal are shared: fixed)."""
        return replace(
            self,
            contents={k: list(v) for k, v in self.contents.items()},
            opened=dict(self.opened),
            props={k: set(v) for k, v in self.props.items()},
        )

    def openable(self, place: str) -> bool:
        return place.rsplit(" ", 1)[0] in self.room.openable

    def accessible(self, place: str) -> bool:
        return not self.openable(place) or self.opened[place]

    def done(self) -> bool:
        g = self.goal
        ok = [
            o
            for o in self.contents[g.target]
            if o.rsplit(" ", 1)[0] == g.kind and (g.prop is None or g.prop in self.props.get(o, set()))
        ]
        return len(ok) >= g.count


def _listing(objs: list[str]) -> str:
    if not objs:
        return "nothing"
    items = [f"a {o}" for o in objs]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f", and {items[-1]}"


def _prep(place: str) -> str:
    return "in" if place.rsplit(" ", 1)[0] in ("cabinet", "drawer", "fridge", "microwave", "garbagecan") else "on"


def generate(seed: int, difficulty: int) -> World:
    """The world of one task: deterministic in (seed, difficulty)."""
    if difficulty not in (1, 2, 3):
        raise ConfigError(f"household difficulty must be 1, 2 or 3, not {difficulty!r}")
    rng = random.Random(f"household:{seed}:{difficulty}")
    room = KITCHEN if difficulty == 2 and rng.random() < 0.7 else rng.choice(ROOMS)
    contents: dict[str, list[str]] = {p: [] for p in room.places}
    opened = {p: False for p in room.places if p.rsplit(" ", 1)[0] in room.openable}
    kind = rng.choice(room.objects)
    target = rng.choice(room.targets)
    prop: str | None = None
    count = 1
    if difficulty == 2:
        props = [p for p, tool in _PROPERTY_TOOL.items() if any(x.startswith(tool) for x in room.places)]
        prop = rng.choice(props)
        if prop == "cool" and target == "fridge 1":
            target = "countertop 1"
    if difficulty == 3:
        count = 2
    closed = [p for p in room.places if p.rsplit(" ", 1)[0] in room.openable and p != target]
    n_goal = count + (1 if difficulty == 1 else 0)
    for i in range(1, n_goal + 1):
        obj = f"{kind} {i}"
        if difficulty == 1 or (difficulty == 2 and rng.random() < 0.5):
            where = rng.choice([s for s in room.surfaces if s != target])
        else:
            where = rng.choice(closed)
        contents[where].append(obj)
    others = [k for k in room.objects if k != kind]
    for k in rng.sample(others, min(len(others), 2 + difficulty)):
        spots = [p for p in room.places if p != target and not p.startswith(("sinkbasin", "microwave", "stoveburner"))]
        contents[rng.choice(spots)].append(f"{k} 1")
    return World(room=room, goal=Goal(kind, target, prop, count), contents=contents, opened=opened)


def make_task(seed: int, difficulty: int) -> Task:
    """A household task: its input is the opening observation and the goal."""
    w = generate(seed, difficulty)
    return Task(
        id=f"household-{difficulty}-{seed}",
        input=_intro(w),
        metadata={"env": "household", "seed": seed, "difficulty": difficulty, "goal": w.goal.text()},
    )


def _intro(w: World) -> str:
    return (
        f"You are in the middle of a {w.room.kind}. Looking quickly around you, you see {_listing(list(w.contents))}."
        f"\n\nYour task is to: {w.goal.text()}."
    )


_ARTICLE = re.compile(r"\b(the|a|an)\s+")


class HouseholdEnv(Env):
    """An ALFWorld-like text world. `tasks()` yields `n_tasks` seeded tasks, difficulties 1, 2, 3 in turn.

    seed: where the task seeds start (task i has seed `seed + i`).
    difficulty: only this difficulty (None: all three in turn).
    """

    name: ClassVar[str] = "household"
    interactive: ClassVar[bool] = True
    instructions: ClassVar[str] = ACTIONS_HELP

    def __init__(self, n_tasks: int = 6, seed: int = 0, difficulty: int | None = None) -> None:
        self.n_tasks, self.seed, self.difficulty = n_tasks, seed, difficulty
        self.world: World | None = None
        self.reward = 0.0

    def tasks(self) -> Iterator[Task]:
        for i in range(self.n_tasks):
            yield make_task(self.seed + i, self.difficulty or (i % 3) + 1)

    def reset(self, task: Task) -> str:
        md = task.metadata
        try:
            self.world = generate(int(md["seed"]), int(md["difficulty"]))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"task {task.id!r} is not a household task (needs seed and difficulty)") from None
        self.reward = 0.0
        return _intro(self.world)

    def episode_copy(self) -> HouseholdEnv:
        """This env and its episode so far, copied without its fixed parts (the room's layout, the goal)."""
        twin = copy.copy(self)
        twin.world = None if self.world is None else self.world.copy()
        return twin

    def step(self, action: str) -> tuple[str, float, bool]:
        """Do one action; (observation, reward, done). Reward is 1.0 once the goal holds."""
        w = self.world
        if w is None:
            raise ConfigError("reset(task) the household env before stepping it")
        if self.reward >= 1.0:
            return ("The task is already done.", 1.0, True)
        obs = self._act(w, " ".join(_ARTICLE.sub("", action.strip().lower().rstrip(".")).split()))
        if w.done():
            self.reward = 1.0
        return obs, self.reward, self.reward >= 1.0

    def _visible(self, w: World) -> list[str]:
        if w.at is None or not w.accessible(w.at):
            return []
        return w.contents[w.at]

    def _act(self, w: World, a: str) -> str:
        if a in ("look", "look around"):
            if w.at is None:
                return _intro(w).split("\n\n")[0]
            return f"You are facing the {w.at}. Next to it, you see nothing."
        if a in ("inventory", "inv", "i"):
            return f"You are carrying: a {w.holding}." if w.holding else "You are not carrying anything."
        if m := re.fullmatch(r"go to (.+)", a):
            place = m.group(1)
            if place not in w.contents:
                return NOTHING
            w.at = place
            if w.openable(place) and not w.opened[place]:
                return f"You arrive at {place}. The {place} is closed."
            where = f"{_prep(place).capitalize()} the {place}"
            return f"You arrive at {place}. {where}, you see {_listing(w.contents[place])}."
        if m := re.fullmatch(r"(open|close) (.+)", a):
            verb, place = m.groups()
            if place != w.at or not w.openable(place) or w.opened[place] == (verb == "open"):
                return NOTHING
            w.opened[place] = verb == "open"
            if verb == "close":
                return f"You close the {place}."
            return f"You open the {place}. The {place} is open. In it, you see {_listing(w.contents[place])}."
        if m := re.fullmatch(r"take (.+?) from (.+)", a):
            obj, place = m.groups()
            if place != w.at or w.holding or obj not in self._visible(w):
                return NOTHING
            w.contents[place].remove(obj)
            w.holding = obj
            return f"You pick up the {obj} from the {place}."
        if m := re.fullmatch(r"put (.+?) (?:in/on|in|on|into|onto) (.+)", a):
            obj, place = m.groups()
            if place != w.at or w.holding != obj or not w.accessible(place):
                return NOTHING
            w.contents[place].append(obj)
            w.holding = None
            return f"You put the {obj} {_prep(place)} the {place}."
        if m := re.fullmatch(r"(clean|heat|cool) (.+?) with (.+)", a):
            verb, obj, place = m.groups()
            prop = {"clean": "clean", "heat": "hot", "cool": "cool"}[verb]
            if place != w.at or w.holding != obj or not place.startswith(_PROPERTY_TOOL[prop]):
                return NOTHING
            w.props.setdefault(obj, set()).add(prop)
            return f"You {verb} the {obj} using the {place}."
        if m := re.fullmatch(r"examine (.+)", a):
            thing = m.group(1)
            if thing in w.contents and thing == w.at:
                if not w.accessible(thing):
                    return f"The {thing} is closed."
                return f"{_prep(thing).capitalize()} the {thing}, you see {_listing(w.contents[thing])}."
            if thing == w.holding or thing in self._visible(w):
                state = sorted(w.props.get(thing, set()))
                return f"This is a normal {thing}." + (f" It is {' and '.join(state)}." if state else "")
            return NOTHING
        return NOTHING

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """Replay `answer` (one action per line) from the start; correct if the goal is reached."""
        self.reset(task)
        steps = 0
        for line in (answer or "").splitlines():
            if not line.strip():
                continue
            steps += 1
            _, reward, done = self.step(line)
            if done:
                return Evaluation(correct=True, score=reward, detail=f"goal reached in {steps} actions")
        return Evaluation(correct=False, score=0.0, detail=f"goal not reached after {steps} actions")

    def solve(self, task: Task) -> list[str]:
        """A plan that reaches the goal (an oracle for tests and demos: it peeks at the world)."""
        self.reset(task)
        w = self.world
        assert w is not None
        g = w.goal
        plan: list[str] = []

        def do(action: str) -> None:
            plan.append(action)
            self.step(action)

        for _ in range(g.count):
            where = next(p for p, objs in w.contents.items() if p != g.target and any(_is(o, g.kind) for o in objs))
            obj = next(o for o in w.contents[where] if _is(o, g.kind))
            do(f"go to {where}")
            if not w.accessible(where):
                do(f"open {where}")
            do(f"take {obj} from {where}")
            if g.prop:
                tool = next(p for p in w.contents if p.startswith(_PROPERTY_TOOL[g.prop]))
                do(f"go to {tool}")
                do(f"{_VERB[g.prop]} {obj} with {tool}")
            do(f"go to {g.target}")
            if not w.accessible(g.target):
                do(f"open {g.target}")
            do(f"put {obj} in/on {g.target}")
        return plan


def _is(obj: str, kind: str) -> bool:
    return obj.rsplit(" ", 1)[0] == kind

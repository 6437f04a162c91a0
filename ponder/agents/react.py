"""ReAct: a Thought / Action / Observation loop with tools (Yao et al., 2023).

Two modes: `native` sends the tools as OpenAI `tools` (plus a `finish` tool) and reads
`tool_calls`; `text` uses the paper's format, `Action: tool[input]` and `finish[answer]`.
`auto` picks native when the backend supports tool calls. A malformed action, an unknown
tool, bad arguments or a tool error become an observation that says what was wrong.

Acting in an environment: when the run's env (`ctx.env`: the `env` option's, else the run's, else
the one the task names) is interactive, like household, a copy of it is reset with the task, an `env` action is
offered (`env[go to fridge 1]`; in text mode a bare `Action: go to fridge 1` works too),
and the episode ends when the env says done. The answer is then the actions taken, one
per line (what `env.evaluate` replays), and the reward is the score.

Reflexion (or anyone) passes lessons from earlier attempts through `reflections`: they
are put before the question in the first user message.
"""

from __future__ import annotations

import json
from string import Template
from typing import Any, ClassVar, Literal

from pydantic import Field

from ponder.agents.react_text import PLACEHOLDER_FINISH, echoes_ponder, is_placeholder, parse_action
from ponder.envs.abilities import Interactive, as_interactive
from ponder.envs.base import Env
from ponder.errors import ConfigError
from ponder.parsing import answer_value, extract_answer
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.runtime.env import build_env, episode_env
from ponder.tools.base import Tool, ToolOptions, build_tools, fork_tools
from ponder.types import Choice, CompletionRequest, Message, Result, Task, ToolCall, ToolSpec

REACT_TEXT_SYSTEM = Template(
    "Solve the task by interleaving Thought, Action and Observation steps. A Thought reasons about the "
    "current situation; an Action is one of:\n$tools\n"
    "- finish: give the final answer and stop; the answer itself goes inside the square brackets.\n"
    "Reply with exactly one Thought and one Action per turn, in this format:\n"
    "Thought: <your reasoning>\nAction: <tool>[<input>]\n"
    "You will then be shown the Observation. Keep the final answer short (a number, a name, yes/no)."
    "$examples"
)
REACT_NATIVE_SYSTEM = (
    "Solve the task step by step. Use the tools when they help (one call at a time, and read each "
    "result). When you know the answer, call `finish` with it; keep it short (a number, a name, yes/no)."
)
REACT_EXAMPLES = """

Example:
Question: What is 17% of 2,350, rounded down?
Thought: I need to compute 0.17 * 2350.
Action: calculator[2350 * 17 / 100]
Observation: 399.5
Thought: Rounded down, that is 399.
Action: finish[399]"""
REACT_ENV_EXAMPLES = """

Example:
You are in the middle of a kitchen. Looking quickly around you, you see a countertop 1, a diningtable 1, a fridge 1.

Your task is to: put a cool apple in diningtable 1.
Thought: First I need an apple; one may be on the countertop.
Action: env[go to countertop 1]
Observation: You arrive at countertop 1. On the countertop 1, you see a apple 1.
Thought: Take it, then cool it with the fridge.
Action: env[take apple 1 from countertop 1]
Observation: You pick up the apple 1 from the countertop 1.
Action: env[go to fridge 1]
Observation: You arrive at fridge 1. The fridge 1 is closed.
Action: env[cool apple 1 with fridge 1]
Observation: You cool the apple 1 using the fridge 1.
Action: env[go to diningtable 1]
Observation: You arrive at diningtable 1. On the diningtable 1, you see nothing.
Action: env[put apple 1 in/on diningtable 1]
Observation: You put the apple 1 on the diningtable 1."""
REACT_QUESTION = Template("${reflections}Question: $question")
REACT_ENV_TASK = Template("${reflections}$observation")
REACT_REFLECTIONS = Template(
    "Lessons from your earlier attempts at this task (use them to do better this time):\n$items\n\n"
)
REACT_ENV_ACTION = "Act in the environment; the input is one action."
FINISH_SPEC = ToolSpec(
    name="finish",
    description="Give the final answer and stop.",
    parameters={
        "type": "object",
        "properties": {"answer": {"type": "string", "description": "The final answer, short"}},
        "required": ["answer"],
    },
)
OBSERVATION_LIMIT = 2000
REACT_NO_ANSWER = Template("no answer: ReAct stopped after $steps step$s without finish[answer]")
REACT_ONLY_PLACEHOLDER = Template(" ($n finish action$s gave only the placeholder, not an answer)")


def _clip(s: str, n: int = OBSERVATION_LIMIT) -> str:
    return s if len(s) <= n else s[:n] + f" … ({len(s) - n} more characters)"


def _tool_lines(tools: dict[str, Tool], env: Interactive | None) -> str:
    lines = []
    for name, t in tools.items():
        props = list(t.spec().parameters.get("properties", {}))
        shape = "input" if len(props) <= 1 else "{" + ", ".join(f'"{p}": ...' for p in props) + "}"
        lines.append(f"- {name}[{shape}]: {t.description}")
    if env is not None:
        lines.append(f"- env[action]: {REACT_ENV_ACTION} {env.instructions}".rstrip())
    return "\n".join(lines)


def _env_spec(env: Interactive) -> ToolSpec:
    return ToolSpec(
        name="env",
        description=f"{REACT_ENV_ACTION} {env.instructions}".strip(),
        parameters={
            "type": "object",
            "properties": {"action": {"type": "string", "description": "One action, e.g. go to fridge 1"}},
            "required": ["action"],
        },
    )


class _Episode:
    """The state of one ReAct run: tools, env, and what happened so far."""

    def __init__(self, ctx: RunContext, env: Interactive | None) -> None:
        self.ctx = ctx
        self.env = env  # the env acted in (a copy of the run's), if it is interactive
        self.env_actions: list[str] = []
        self.reward = 0.0
        self.done = False
        self.answer: str | None = None
        self.placeholders = 0  # finish actions that gave only the prompt's placeholder


class ReAct(BaseAgent):
    """Reason + act: Thought / Action / Observation steps with tools, up to `max_steps`.

    mode: `auto` (native tool calls when the backend supports them), `native` or `text`.
    tools: registered tool names used when the run gives no tools (`python` only when listed).
    corpus: the corpus database for search/lookup (default: `corpus.db` beside the trace db,
        else the small example corpus shipped with ponder).
    env: an environment to act in (`household`); `env_config` its options. Unset: the run's env,
        else the env the task names (`ctx.env`, `ponder.runtime.env.resolve_env`).
    reflections: lessons from earlier attempts, shown before the task (Reflexion fills this).
    max_tool_calls: native tool calls run from one reply; the rest are refused with an observation.
    examples: the worked example of the text-mode prompt (None: one that fits the task; "" for none).
    """

    name: ClassVar[str] = "react"

    max_steps: int = Field(default=8, ge=1, le=100)
    mode: Literal["auto", "native", "text"] = "auto"
    tools: list[str] = Field(default_factory=lambda: ["calculator", "search", "lookup"])
    corpus: str | None = None
    env: str | None = None
    env_config: dict[str, Any] = Field(default_factory=dict)
    reflections: list[str] = Field(default_factory=list)
    examples: str | None = None
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)
    max_tool_calls: int = Field(default=16, ge=1, description="tool calls run from one reply; more are refused")

    # -- setup ------------------------------------------------------------------------

    def _tools(self, ctx: RunContext) -> dict[str, Tool]:
        if ctx.tools:
            return fork_tools(ctx.tools)
        corpus = self.corpus
        if corpus is None:
            beside = ctx.resource("corpus.db")
            corpus = None if beside is None else str(beside)
        return build_tools(list(self.tools), ToolOptions(corpus=corpus))

    def env_option(self) -> Env | None:
        """The env `env` / `env_config` name (built), or None: the run's env (`ctx.env`) is used."""
        return None if self.env is None else build_env(self.env, self.env_config)

    def _intro(self, task: Task, acting: Interactive | None) -> str:
        items = "\n".join(f"- {r.strip()}" for r in self.reflections if r.strip())
        refl = REACT_REFLECTIONS.substitute(items=items) if items else ""
        if acting is not None:
            return REACT_ENV_TASK.substitute(reflections=refl, observation=acting.reset(task))
        return REACT_QUESTION.substitute(reflections=refl, question=task.input)

    def _request(self, messages: list[Message], tools: tuple[ToolSpec, ...] | None) -> CompletionRequest:
        return CompletionRequest(
            messages=tuple(messages),
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            stop=None if tools else ("\nObservation:",),
            tools=tools,
        )

    # -- acting ---------------------------------------------------------------------

    async def _act(self, ep: _Episode, sctx: RunContext, name: str, arg: Any, action_seq: int) -> tuple[str, bool]:
        """Do one non-finish action; (observation, ok)."""
        if name == "env" and ep.env is not None:
            action = arg.get("action", "") if isinstance(arg, dict) else str(arg)
            if not isinstance(action, str) or not action.strip():
                return "Error: the env action is empty; give one action, e.g. env[look]", False
            # the env is deterministic in (task, actions), so a replayed run re-steps it identically
            obs, reward, done = ep.env.step(action)
            ep.env_actions.append(action.strip())
            ep.reward, ep.done = reward, done
            sctx.update(action_seq, score=reward)
            return obs, True
        outcome = await sctx.call_tool(name, arg, parent=action_seq)
        return outcome.observation, outcome.ok

    async def _step_text(self, ep: _Episode, sctx: RunContext, messages: list[Message], text: str) -> None:
        bare = ep.env is not None
        act = parse_action(text, bare_actions=bare)
        ep.placeholders += act.error == PLACEHOLDER_FINISH
        sctx.event("thought", "thought", act.thought or "(no thought)", data={"text": act.thought})
        if act.error is not None:
            sctx.event("action", "invalid", act.text or "(empty reply)", status="invalid", data={"raw": text})
            obs, ok = f"Invalid action: {act.error}.", False
        else:
            assert act.name is not None
            seq = sctx.event("action", f"{act.name}[{act.arg}]", data={"tool": act.name, "input": act.arg})
            if act.name == "finish":
                ep.answer = answer_value(act.arg) or act.arg
                return
            obs, ok = await self._act(ep, sctx, act.name, act.arg, seq)
        sctx.event("observation", "observation", obs, status="ok" if ok else "error", data={"text": obs})
        messages.append(Message.assistant(act.text or text.strip()))
        messages.append(Message.user(f"Observation: {_clip(obs)}"))

    async def _step_native(self, ep: _Episode, sctx: RunContext, messages: list[Message], choice: Choice) -> None:
        calls: tuple[ToolCall, ...] = choice.tool_calls or ()
        if not calls:
            return await self._step_without_calls(ep, sctx, messages, choice)
        if choice.text.strip():
            sctx.event("thought", "thought", choice.text, data={"text": choice.text})
        # a call without a function name cannot be run or answered by id; more than max_tool_calls
        # are not run (seen: a reply with 1000 calls): both are told to the model, not run
        named = tuple(c for c in calls if c.name)
        run, refused = named[: self.max_tool_calls], named[self.max_tool_calls :]
        messages.append(Message.assistant(choice.text, tool_calls=run or None))
        for call in run:
            if await self._native_call(ep, sctx, messages, call):
                return
        self._tell_unrun_calls(sctx, messages, [c for c in calls if not c.name], refused)

    async def _step_without_calls(
        self, ep: _Episode, sctx: RunContext, messages: list[Message], choice: Choice
    ) -> None:
        """A native reply that calls no tool: a text action, a stated answer, or an error told to the model."""
        act = parse_action(choice.text)
        if act.error is None and act.name not in (None, "finish"):
            return await self._step_text(ep, sctx, messages, choice.text)
        if act.error is None and act.name == "finish":
            sctx.event("thought", "thought", act.thought or "(no thought)", data={"text": act.thought})
            sctx.event("action", f"finish[{act.arg}]", data={"tool": "finish", "input": act.arg})
            ep.answer = answer_value(act.arg) or act.arg
            return
        answer = (extract_answer(choice.text) or choice.text.strip()) if choice.text.strip() else ""
        ep.placeholders += act.error == PLACEHOLDER_FINISH or (bool(answer) and is_placeholder(answer))
        if answer and not echoes_ponder(choice.text) and not is_placeholder(answer):
            # answered in prose without calling finish: take it as the answer
            sctx.event("thought", "thought", choice.text, data={"text": choice.text})
            sctx.event("action", f"finish[{answer}]", status="invalid", data={"tool": "finish", "input": answer})
            ep.answer = answer
            return
        obs = "Error: the reply was empty; call a tool, or call finish with the answer."
        if choice.text.strip():
            sctx.event("thought", "thought", choice.text, data={"text": choice.text})
            obs = "Error: the reply gave no answer; call a tool, or call finish with the answer."
        sctx.event("observation", "observation", obs, status="error", data={"text": obs})
        messages.append(Message.assistant(""))
        messages.append(Message.user(obs))

    async def _native_call(self, ep: _Episode, sctx: RunContext, messages: list[Message], call: ToolCall) -> bool:
        """Run one tool call (or take its finish answer); True when the episode's step ends here."""
        try:
            args: Any = json.loads(call.arguments or "{}")
            bad = None if isinstance(args, dict) else "the arguments must be a JSON object"
        except json.JSONDecodeError as e:
            args, bad = call.arguments, f"the arguments are not valid JSON ({e.msg})"
        seq = sctx.event(
            "action",
            f"{call.name}({call.arguments})",
            status="ok" if bad is None else "invalid",
            data={"tool": call.name, "arguments": call.arguments, "id": call.id},
        )
        if call.name == "finish" and bad is None:
            value = args.get("answer")
            got = answer_value(value) if isinstance(value, str) else None if value is None else json.dumps(value)
            if got is not None:
                ep.answer = got
                return True
            placeholder = isinstance(value, str) and is_placeholder(value)
            ep.placeholders += placeholder
            bad = (
                "finish needs the actual answer, not a placeholder"
                if placeholder
                else ("finish needs a non-empty 'answer'")
            )
        if bad is not None:
            obs, ok = f"Error: {bad}; call {call.name} again with its arguments as a JSON object.", False
        else:
            obs, ok = await self._act(ep, sctx, call.name, args, seq)
        sctx.event("observation", "observation", obs, status="ok" if ok else "error", data={"text": obs})
        messages.append(Message(role="tool", content=_clip(obs), tool_call_id=call.id or None))
        return ep.done

    def _tell_unrun_calls(
        self, sctx: RunContext, messages: list[Message], malformed: list[ToolCall], refused: tuple[ToolCall, ...]
    ) -> None:
        """Record the calls not run (no function name, past `max_tool_calls`) and tell the model why."""
        problems = []
        for call in malformed:
            raw = call.arguments
            sctx.event("action", "(malformed tool call)", raw, status="invalid", data={"raw": raw})
            problems.append(f"a tool call had no function name ({_clip(call.arguments, 200)})")
        if refused:
            names = ", ".join(sorted({c.name for c in refused}))
            sctx.event(
                "action",
                f"({len(refused)} tool calls refused)",
                f"{len(refused)} calls past max_tool_calls={self.max_tool_calls}: {names}",
                status="invalid",
                data={"refused": len(refused), "max_tool_calls": self.max_tool_calls},
            )
            problems.append(
                f"{len(refused)} more tool calls were refused: at most {self.max_tool_calls} are run per reply"
            )
        if problems:
            obs = "Error: " + "; ".join(problems) + ". Call tools with a name and JSON arguments, a few at a time."
            sctx.event("observation", "observation", obs, status="error", data={"text": obs})
            messages.append(Message.user(obs))

    # -- the loop -------------------------------------------------------------------

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        env = ctx.env
        acting = as_interactive(env)
        if acting is not None:  # stepped on a copy: the run's env may be shared (a bench)
            acting = episode_env(acting)
        interactive = acting is not None
        rctx = ctx.with_tools(self._tools(ctx))
        if interactive and "env" in rctx.tools:
            raise ConfigError("a tool is named 'env', which clashes with the environment's action; rename it")
        native = self.mode == "native" or (self.mode == "auto" and ctx.backend.capabilities.tools)
        if native:
            specs = tuple(t.spec() for t in rctx.tools.values())
            specs += (_env_spec(acting),) if acting is not None else ()
            messages = [Message.system(REACT_NATIVE_SYSTEM), Message.user(self._intro(task, acting))]
            offered: tuple[ToolSpec, ...] | None = (*specs, FINISH_SPEC)
        else:
            system = REACT_TEXT_SYSTEM.substitute(
                tools=_tool_lines(rctx.tools, acting),
                examples=self.examples
                if self.examples is not None
                else REACT_ENV_EXAMPLES
                if interactive
                else REACT_EXAMPLES,
            )
            messages = [Message.system(system), Message.user(self._intro(task, acting))]
            offered = None
        ep = _Episode(rctx, acting)
        steps = 0
        for step in range(1, self.max_steps + 1):
            steps = step
            step_seq = rctx.event("step", f"step {step}", status="running")
            sctx = rctx.within(step_seq)
            completion = await sctx.complete(self._request(messages, offered), label=f"react step {step}")
            choice = completion.choices[0] if completion.choices else Choice()
            if native:
                await self._step_native(ep, sctx, messages, choice)
            else:
                await self._step_text(ep, sctx, messages, choice.text)
            rctx.update(step_seq, status="ok")
            if ep.answer is not None or ep.done:
                break
        meta: dict[str, Any] = {"steps": steps, "mode": "native" if native else "text"}
        error = None
        if ep.answer is None and not ep.done:
            rctx.event("error", "max_steps", f"stopped after max_steps={self.max_steps} without finish[answer]",
                       status="error")  # fmt: skip
            meta["stopped"] = "max_steps"
            error = REACT_NO_ANSWER.substitute(steps=steps, s="" if steps == 1 else "s")
            if ep.placeholders:
                error += REACT_ONLY_PLACEHOLDER.substitute(n=ep.placeholders, s="" if ep.placeholders == 1 else "s")
        if interactive:
            meta["reward"] = ep.reward
            return Result(answer="\n".join(ep.env_actions), correct=ep.reward >= 1.0, score=ep.reward, metadata=meta)
        result = Result(answer=ep.answer, error=error, metadata=meta)
        if env is not None and ep.answer is not None:
            ev = env.evaluate(task, ep.answer)
            if ev.correct is not None or ev.score is not None:
                result = result.model_copy(update={"correct": ev.correct, "score": ev.score})
                meta["evaluation"] = ev.detail
        return result

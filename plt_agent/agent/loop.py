"""The agent loop: ask the model for one action, run it, show it the output, repeat.

    agent = Agent(model, workspace, tools, settings=AgentSettings(...), verify=..., events=...)
    outcome = agent.run(task)          # fix-style: until verified / submitted / a budget ends
    outcome = agent.run(question, purpose="chat")   # chat-style: until a reply without action

The history is append-only (the system prompt and tool list are byte-stable), so backends
keep their KV cache across turns; old tool outputs are elided in one batch only when the
window would overflow (`context.ContextBudget`). Actions come as native tool calls when the
model takes them (`mode="tools"`) and through the text protocol otherwise (`actions`).
A `ReplyWatch` ends each streamed reply as soon as it holds one whole action, or when it
rambles (`prose_chars` without starting an action) or loops; such a cut is not a cancel.

Stops, each an `Outcome.status` (`outcome`): "fixed" (verification passed), "submitted" (no
verifier), "answered" (chat reply), "stuck" (repeated actions), and those every run shares
(`run.Run`: budgets, "format_errors", "context_overflow", "model_error", "cancelled").
Every event goes to the trajectory as it happens.
This module knows nothing about the CLI, git or how the task was made.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plt_agent.agent import prompts
from plt_agent.agent.actions import (
    ACTION_OPENER,
    STOP_SEQUENCES,
    Action,
    FormatError,
    action_complete,
    check_action,
    parse_action,
)
from plt_agent.agent.context import ContextBudget
from plt_agent.agent.events import AgentEvents
from plt_agent.agent.outcome import Outcome, Verdict
from plt_agent.agent.run import AgentSettings, Run, Stop
from plt_agent.agent.trajectory import Trajectory
from plt_agent.models.base import Model, Reply
from plt_agent.models.replywatch import ReplyWatch, trim_loop
from plt_agent.models.wire import tool_call_to_wire
from tools.base import Observation, Tool, edits_named_file
from tools.workspace import Workspace

SUBMIT_TOOL = {
    "name": "submit",
    "description": "Finish: say the task is done. The tests are run once more to check.",
    "parameters": {"type": "object", "properties": {}},
}


@dataclass
class _RunState:
    """One `run` of the loop: the shared machinery, and what only the loop counts."""

    run: Run
    purpose: str
    repeats: int = 0


class Agent:
    def __init__(
        self,
        model: Model,
        workspace: Workspace,
        tools: list[Tool],
        *,
        settings: AgentSettings | None = None,
        verify: Callable[[], Verdict] | None = None,
        confirm: Callable[[Action], bool | str] | None = None,
        events: AgentEvents | None = None,
        trajectory: Trajectory | None = None,
        should_stop: Callable[[], bool] | None = None,
        run_tool: Callable[[str, dict[str, Any], Workspace], Observation] | None = None,
    ) -> None:
        self.model = model
        self.workspace = workspace
        self.tools = {t.name: t for t in tools}
        self.settings = settings or AgentSettings()
        self.native = self.settings.mode == "tools"
        self.verify = verify
        self.confirm = confirm
        self.events = events or AgentEvents()
        self.trajectory = trajectory or Trajectory(None)
        self.should_stop = should_stop
        self._run_tool = run_tool or _registry_run_tool
        self.schemas = [_schema(t) for t in tools] + [SUBMIT_TOOL]
        self.budget = ContextBudget(model, tools=self.schemas if self.native else None)
        self.messages: list[dict[str, Any]] = []
        self.observations: list[int] = []  # indices of tool-output messages (elidable)
        self._seen: list[str] = []  # action keys since the tree last changed
        self._tree_version = 0

    # -- public ---------------------------------------------------------------------------------

    def run(self, task: str, *, purpose: str = "fix") -> Outcome:
        """Add `task` as a user message and act until a stop (see the module docstring)."""
        if not self.messages:
            self._append(
                {
                    "role": "system",
                    "content": prompts.system_prompt(self.schemas, native=self.native, purpose=purpose),
                }
            )
        self._append({"role": "user", "content": task})
        state = _RunState(Run(self.settings, self.events, self.trajectory, self.should_stop), purpose)

        def steps() -> Stop:
            while True:  # until a Stop is raised
                state.run.check_budgets()
                self._handle(self._query(state), state)

        return state.run.execute(steps)

    # -- one step -------------------------------------------------------------------------------

    def _query(self, state: _RunState) -> Reply:
        step = state.run.next_step()
        fit = self.budget.fit(self.messages, self.observations, self.settings.reply_tokens)
        if fit.elided:
            self.trajectory.log("elide", step=step, count=fit.elided, prompt_tokens=fit.prompt_tokens)
            self.events.note(
                f"elided {fit.elided} old tool outputs to fit the {self.budget.window}-token window"
            )
        self.events.step_started(step, self.settings.max_steps, fit.prompt_tokens)
        watch = self._watch(state)
        reply = self.model.complete(
            self.messages,
            tools=self.schemas if self.native else None,
            max_tokens=fit.reply_tokens,
            temperature=self.settings.temperature,
            stop=None if self.native else STOP_SEQUENCES,
            on_text=watch.feed,
            should_stop=watch.done,
            on_progress=self.events.progress,
        )
        state.run.replied(reply, prompt_tokens_counted=fit.prompt_tokens, cut=watch.reason)
        if watch.interrupted(reply):
            raise Stop("cancelled", "stopped by the user")
        if watch.describe():
            self.events.note(watch.describe())
        if watch.reason == "repeating":  # remembered with its loop once, not as an example to follow
            reply.content = trim_loop(reply.content)
        return reply

    def _watch(self, state: _RunState) -> ReplyWatch:
        """Ends a reply at its first whole action, or early when it rambles or loops."""
        text_fix = not self.native and state.purpose == "fix"
        return ReplyWatch(
            self.events.text,
            complete=None if self.native else action_complete,
            opener=ACTION_OPENER,
            prose_chars=self.settings.prose_chars if text_fix else None,
            user_stop=self.should_stop,
        )

    def _handle(self, reply: Reply, state: _RunState) -> None:
        content = reply.content
        if not self.native and "<function" in content and "</function>" not in content:
            content += "</function>"  # the stop sequence ate it; keep the history well-formed
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reply.tool_calls:
            message["tool_calls"] = [tool_call_to_wire(c) for c in reply.tool_calls]
        self._append(message)
        try:
            action = self._action_of(reply)
        except FormatError as exc:
            if state.purpose == "chat" and not reply.tool_calls:
                state.run.outcome.answer = reply.content
                raise Stop("answered") from None
            self._format_error(str(exc), reply, state)
            return
        state.run.format_errors = 0
        self._answer_extra_calls(reply)
        self._act(action, state)

    def _action_of(self, reply: Reply) -> Action:
        if reply.tool_calls:
            call = reply.tool_calls[0]
            if call.error:
                raise FormatError(f"Your call of {call.name or 'a tool'} could not be read: {call.error}")
            action = Action(call.name, dict(call.arguments), call_id=call.id, native=True)
            return check_action(action, {s["name"]: s for s in self.schemas})
        return parse_action(reply.content, self.schemas)

    def _format_error(self, message: str, reply: Reply, state: _RunState) -> None:
        count, limit = state.run.format_errors + 1, self.settings.max_format_errors
        self.trajectory.log("action", step=state.run.steps, refused="format", message=message)
        self.events.note(f"format error {count}/{limit}: {message[:160]}")
        text = prompts.format_error(message, count, limit)
        if reply.tool_calls:
            for call in reply.tool_calls:
                self._append_observation(text, call.id, call.name)
        else:
            self._append_observation(text)
        state.run.bad_reply("no usable action")

    def _answer_extra_calls(self, reply: Reply) -> None:
        """Native protocol: every tool call needs an answer; only the first one runs."""
        for call in reply.tool_calls[1:]:
            self._append_observation(prompts.not_run(call.name), call.id, call.name)

    def _act(self, action: Action, state: _RunState) -> None:
        self.events.action(action)
        if action.name == "submit":
            self._submit(action, state)
            return
        key = f"{self._tree_version}:{action.key()}"
        if key in self._seen:
            self._refuse_repeat(action, state)
            return
        state.repeats = 0
        self._seen.append(key)
        answer = self.confirm(action) if self.confirm else True
        if isinstance(answer, str) or not answer:  # declined by the user, or refused with a reason
            self._log_refused(action, "refused" if isinstance(answer, str) else "declined", state)
            text = answer if isinstance(answer, str) else prompts.declined(action.name)
            self._append_observation(text, action.call_id, action.name)
            return
        self._run(action, state)

    def _run(self, action: Action, state: _RunState) -> None:
        before = set(self.workspace.changed_files()) if self.verify else set()
        self.events.phase(f"running {action.name}")
        started = time.perf_counter()
        obs = self._run_tool(action.name, action.arguments, self.workspace)
        seconds = time.perf_counter() - started
        text = self.budget.clip(obs.text)
        self.trajectory.log(
            "action",
            step=state.run.steps,
            name=action.name,
            arguments=action.arguments,
            ok=obs.ok,
            seconds=round(seconds, 3),
            chars=len(obs.text),
        )
        self.events.observation(action, obs)
        verdict = None
        if self._tree_changed(before, self.tools[action.name]) and self.settings.verify_after_edits:
            verdict = state.run.check(self.verify) if self.verify else None
        body = prompts.observation(action.name, text, obs.ok)
        if verdict is not None and not verdict.passed:
            body += "\n\n" + prompts.tests_still_fail(self.budget.clip(verdict.summary, 600))
        notes = "".join("\n" + n for n in action.notes)
        self._append_observation(body + notes, action.call_id, action.name)
        if verdict is not None and verdict.passed:
            raise Stop("fixed", "the tests pass")

    def _tree_changed(self, before: set[str], tool: Tool) -> bool:
        """Whether the action may have changed the tree: with a verifier, the changed files say
        so for the tools that name their file; without one, every mutating tool counts."""
        if not self.verify:
            changed = tool.mutates
        else:
            moved = set(self.workspace.changed_files()) != before
            changed = moved or (tool.mutates and not edits_named_file(tool))
        if changed:
            self._tree_version += 1
            self._seen = []
        return changed

    def _submit(self, action: Action, state: _RunState) -> None:
        if self.verify is None:
            raise Stop("submitted", "the model submitted")
        verdict = state.run.check(self.verify)
        if verdict.passed:
            raise Stop("fixed", "the tests pass")
        text = prompts.tests_still_fail(self.budget.clip(verdict.summary))
        self._append_observation(text, action.call_id, action.name)

    def _refuse_repeat(self, action: Action, state: _RunState) -> None:
        state.repeats += 1
        self._log_refused(action, "repeat", state)
        self.events.note(f"repeated action refused ({state.repeats}/{self.settings.max_repeats})")
        self._append_observation(prompts.repeated_action(action.name), action.call_id, action.name)
        if state.repeats >= self.settings.max_repeats:
            raise Stop("stuck", f"the model repeated the same action {state.repeats} times")

    def _log_refused(self, action: Action, why: str, state: _RunState) -> None:
        self.trajectory.log(
            "action", step=state.run.steps, name=action.name, arguments=action.arguments, refused=why
        )

    # -- history --------------------------------------------------------------------------------

    def _append(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.trajectory.log("message", index=len(self.messages) - 1, message=message)

    def _append_observation(self, text: str, call_id: str = "", name: str = "") -> None:
        if self.native and call_id:
            message = {"role": "tool", "tool_call_id": call_id, "name": name, "content": text}
        else:
            message = {"role": "user", "content": text}
        self._append(message)
        self.observations.append(len(self.messages) - 1)


def _schema(tool: Tool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "parameters": tool.parameters}


def _registry_run_tool(name: str, args: dict[str, Any], workspace: Workspace) -> Observation:
    from tools.registry import run_tool

    return run_tool(name, args, workspace)

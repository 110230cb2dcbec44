"""The agent loop through its API: repeated actions, declined actions, chat answers,
cancelling, token budgets, and an interrupted fix that puts every file back."""

from __future__ import annotations

import json

import pytest
from agent_helpers import BUGGY_LINE, git, tree_bytes, xml_call

from plt_agent.agent.events import AgentEvents
from plt_agent.agent.fix import FixRequest, fix_repository, fix_tools, make_verifier
from plt_agent.agent.loop import Agent
from plt_agent.agent.run import AgentSettings
from plt_agent.config import Config
from plt_agent.errors import UsageError
from plt_agent.models.scripted import ScriptedModel
from tools.workspace import Workspace

VIEW = xml_call("view", path="mathlib/core.py")


def _agent(repo, replies, *, verify=True, **settings):
    workspace = Workspace(repo)
    workspace.snapshot()
    model = ScriptedModel([{"content": r} for r in replies])
    check = make_verifier(workspace) if verify else None
    agent = Agent(model, workspace, fix_tools(), settings=AgentSettings(**settings), verify=check)
    return agent, model


def test_repeating_the_same_action_is_refused_then_stops(demo_repo):
    agent, model = _agent(demo_repo, [VIEW] * 6)
    outcome = agent.run("fix it")
    assert outcome.status == "stuck"
    assert model.n_calls == 4  # one real view, then three refused repeats
    refusals = [m for m in agent.messages if "You already ran this exact view" in str(m.get("content"))]
    assert len(refusals) == 3


def test_a_repeat_is_allowed_again_after_the_tree_changed(demo_repo):
    edit = xml_call("edit", path="README.md", old="tiny", new="small")
    agent, model = _agent(demo_repo, [VIEW, edit, VIEW], verify=False, max_steps=3)
    outcome = agent.run("look")
    assert outcome.status == "max_steps"
    assert not any("You already ran" in str(m.get("content")) for m in agent.messages)


def test_a_declined_action_is_not_run_and_the_model_is_told(demo_repo, tmp_path):
    marker = tmp_path / "ran.txt"
    bash = xml_call("bash", command=f"touch {marker}")
    agent, _ = _agent(demo_repo, [bash], verify=False, max_steps=1)
    agent.confirm = lambda action: action.name != "bash"
    agent.run("do it")
    assert not marker.exists()
    assert any("declined" in str(m.get("content")) for m in agent.messages)


def test_chat_purpose_ends_on_a_plain_answer(demo_repo):
    agent, _ = _agent(demo_repo, [VIEW, "The bug is in add: it subtracts."], verify=False)
    outcome = agent.run("where is the bug?", purpose="chat")
    assert outcome.status == "answered"
    assert outcome.answer == "The bug is in add: it subtracts."
    assert outcome.steps == 2


def test_the_token_budget_ends_the_run(demo_repo):
    agent, model = _agent(demo_repo, [VIEW, xml_call("view", path="README.md"), VIEW], max_tokens=100)
    outcome = agent.run("fix it")
    assert outcome.status == "max_tokens"
    assert model.n_calls == 1  # the first prompt alone is over 100 tokens


def test_an_edit_that_makes_the_tests_pass_ends_the_run_without_submit(demo_repo):
    fix = xml_call("edit", path="mathlib/core.py", old=BUGGY_LINE, new="    return a + b")
    agent, model = _agent(demo_repo, [fix, "never asked"], verify=True)
    outcome = agent.run("fix it")
    assert outcome.status == "fixed"
    assert model.n_calls == 1


class _Interrupt(AgentEvents):
    def observation(self, action, observation) -> None:
        if action.name == "edit":
            raise KeyboardInterrupt


def test_an_interrupted_fix_puts_every_file_back(demo_repo, tmp_path):
    (demo_repo / "README.md").write_text("the user's uncommitted edit\n")
    before = tree_bytes(demo_repo)
    wrong = xml_call("edit", path="mathlib/core.py", old=BUGGY_LINE, new="    return 0")
    model = ScriptedModel([{"content": wrong}])
    with pytest.raises(KeyboardInterrupt):
        fix_repository(
            FixRequest(demo_repo, trajectory=tmp_path / "t.jsonl"),
            Config(mode="text"),
            lambda: model,
            events=_Interrupt(),
        )
    assert tree_bytes(demo_repo) == before


def test_should_stop_cancels_and_restores(demo_repo):
    before = tree_bytes(demo_repo)
    wrong = xml_call("edit", path="mathlib/core.py", old=BUGGY_LINE, new="    return 0")
    model = ScriptedModel([{"content": wrong}, {"content": VIEW}])
    result = fix_repository(
        FixRequest(demo_repo), Config(mode="text"), lambda: model, should_stop=lambda: model.n_calls >= 1
    )
    assert result.outcome.status == "cancelled"
    assert not result.fixed
    assert tree_bytes(demo_repo) == before


def test_a_message_task_succeeds_when_the_model_submits_and_the_tests_pass(demo_repo):
    fix = xml_call("edit", path="mathlib/core.py", old=BUGGY_LINE, new="    return a + b")
    model = ScriptedModel([{"content": fix}, {"content": xml_call("submit")}])
    result = fix_repository(FixRequest(demo_repo, message="make add add"), Config(mode="text"), lambda: model)
    assert result.outcome.status == "fixed"
    assert model.n_calls == 2  # with -m, edits are not auto-verified: the model decides when to submit
    assert "+    return a + b" in result.diff


def test_a_message_task_without_tests_keeps_the_submitted_change(hermetic, tmp_path):
    repo = tmp_path / "notes"
    repo.mkdir()
    (repo / "todo.txt").write_text("buy milk\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    edit = xml_call("edit", path="todo.txt", old="buy milk", new="buy oat milk")
    model = ScriptedModel([{"content": edit}, {"content": xml_call("submit")}])
    result = fix_repository(FixRequest(repo, message="oat milk, please"), Config(), lambda: model)
    assert result.outcome.status == "submitted"
    assert result.fixed
    assert (repo / "todo.txt").read_text() == "buy oat milk\n"


def test_no_task_and_no_tests_is_a_usage_error(hermetic, tmp_path):
    repo = tmp_path / "empty"
    repo.mkdir()
    (repo / "a.txt").write_text("x\n")
    git(repo, "init", "-q")
    with pytest.raises(UsageError, match="--test-cmd"):
        fix_repository(FixRequest(repo), Config(), lambda: ScriptedModel([]))


class _Recording(ScriptedModel):
    """A scripted model that also keeps every prompt it was given."""

    def __init__(self, replies):
        super().__init__([{"content": r} for r in replies])
        self.prompts: list[str] = []

    def complete(self, messages, **kwargs):
        self.prompts.append(json.dumps(messages))
        return super().complete(messages, **kwargs)


def test_the_prompt_only_grows_at_the_end_so_the_kv_cache_is_reused(demo_repo):
    workspace = Workspace(demo_repo)
    model = _Recording([VIEW, xml_call("view", path="README.md"), xml_call("search", pattern="def add")])
    agent = Agent(model, workspace, fix_tools(), settings=AgentSettings(max_steps=3))
    agent.run("look around")
    assert len(model.prompts) == 3
    for earlier, later in zip(model.prompts, model.prompts[1:], strict=False):
        assert later[: len(earlier) - 1] == earlier[:-1]  # same JSON list, more items at the end


def test_the_time_budget_ends_the_run(demo_repo):
    wrong = xml_call("edit", path="mathlib/core.py", old=BUGGY_LINE, new="    return 0")
    agent, model = _agent(demo_repo, [wrong, VIEW, VIEW], max_seconds=0.05)
    outcome = agent.run("fix it")  # the test run after the edit takes longer than 50 ms
    assert outcome.status == "max_seconds"
    assert model.n_calls == 1


def _wrong_edit_then_budget(demo_repo, **request):  # type: ignore[no-untyped-def]
    wrong = xml_call("edit", path="mathlib/core.py", old=BUGGY_LINE, new="    return a * b")
    model = ScriptedModel([{"content": wrong}, {"content": VIEW}])
    return fix_repository(FixRequest(demo_repo, **request), Config(mode="text", max_steps=1), lambda: model)


def test_a_failed_fix_leaves_the_tree_as_it_found_it_by_default(demo_repo):
    before = tree_bytes(demo_repo)
    result = _wrong_edit_then_budget(demo_repo)
    assert result.outcome.status == "max_steps"
    assert not result.fixed
    assert tree_bytes(demo_repo) == before
    assert result.restored == ["mathlib/core.py"]
    assert result.diff == ""


def test_keep_changes_leaves_the_edits_of_a_failed_run_for_grading(demo_repo):
    before = tree_bytes(demo_repo)
    result = _wrong_edit_then_budget(demo_repo, keep_changes=True)
    assert result.outcome.status == "max_steps"
    assert not result.fixed
    after = tree_bytes(demo_repo)
    assert set(after) == set(before)
    assert [k for k in after if after[k] != before[k]] == ["mathlib/core.py"]
    assert after["mathlib/core.py"] == before["mathlib/core.py"].replace(b"return a - b", b"return a * b")
    assert "-    return a - b\n+    return a * b\n" in result.diff
    assert result.restored == []

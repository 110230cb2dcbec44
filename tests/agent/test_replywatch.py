"""The text protocol for small models: replies end right after the first whole action, a
rambling or looping reply is cut early (and counts as a format error, not a cancel), the
format-error message is short with an example, and the reply room is capped."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from agent_helpers import TOOL_SCHEMAS as TOOLS
from agent_helpers import xml_call

from plt_agent.agent.actions import ACTION_OPENER, FormatError, action_complete, parse_action
from plt_agent.agent.fix import fix_tools, make_verifier, settings_from
from plt_agent.agent.loop import Agent
from plt_agent.agent.profile import choose_profile
from plt_agent.agent.run import AgentSettings
from plt_agent.config import Config
from plt_agent.models.base import Reply, Usage
from plt_agent.models.replywatch import ReplyWatch, loop_at_end, repeats_at_end, trim_loop
from plt_agent.models.wire import approx_message_tokens, cut_at_stop
from tools.workspace import Workspace

VIEW = xml_call("view", path="mathlib/core.py")


class StreamingModel:
    """Streams each scripted reply in small chunks like a local backend: honours `stop`
    strings and `should_stop` (then finish_reason "cancelled"), and records what it sent."""

    supports_tools = False
    mode = None

    def __init__(self, replies: list[str], *, n_params: int | None = None, window: int = 8192) -> None:
        self.replies = list(replies)
        self.n_params = n_params
        self.context_window = window
        self.name = "streaming-test-model"
        self.streamed: list[str] = []
        self.max_tokens: list[int] = []

    def count_tokens(self, messages, tools=None):  # type: ignore[no-untyped-def]
        return approx_message_tokens(messages, tools)

    def complete(self, messages, *, max_tokens=1024, stop=None, on_text=None, should_stop=None, **_):  # type: ignore[no-untyped-def]
        self.max_tokens.append(max_tokens)
        text, _found = cut_at_stop(self.replies.pop(0), stop)
        sent, finish = "", "stop"
        for i in range(0, len(text), 7):
            chunk = text[i : i + 7]
            sent += chunk
            if on_text:
                on_text(chunk)
            if should_stop and should_stop():
                finish = "cancelled"
                break
        self.streamed.append(sent)
        return Reply(content=sent, finish_reason=finish, usage=Usage(10, len(sent) // 4, 0, 0.01))


def _agent(repo, model, **settings):  # type: ignore[no-untyped-def]
    workspace = Workspace(repo)
    workspace.snapshot()
    agent = Agent(
        model,
        workspace,
        fix_tools(),
        settings=AgentSettings(**settings),
        verify=make_verifier(workspace),
    )
    return agent


# -- the watch on its own ----------------------------------------------------------------------


def _feed(watch: ReplyWatch, text: str, size: int = 5) -> str:
    """Feed `text` in chunks until the watch says stop; returns what it saw."""
    for i in range(0, len(text), size):
        watch.feed(text[i : i + size])
        if watch.done():
            break
    return watch.text


def test_prose_without_an_action_is_cut_after_the_limit():
    watch = ReplyWatch(opener=ACTION_OPENER, prose_chars=300)
    prose = (  # no loop: every sentence is new
        "I will now think about the problem. First the tests, which fail in one place. Then the "
        "code they call, a small module of string helpers. The helper that counts words divides "
        "by the wrong number, so the mean comes out too small. Before changing it I want to read "
        "the other helpers too, in case they share the mistake, and the documentation of each."
    )
    seen = _feed(watch, prose)
    assert watch.reason == "rambling"
    assert 300 < len(seen) <= 305
    assert str(len(seen)) in watch.describe()


def test_prose_that_starts_an_action_in_time_is_not_cut():
    watch = ReplyWatch(opener=ACTION_OPENER, prose_chars=300)
    lines = "".join(f"{name} = compute({name!r})\n" for name in ("alpha", "beta", "gamma", "delta") * 2)
    reply = "Let me look at the file first.\n" + "<function=edit>\n<parameter=new>" + lines
    _feed(watch, reply)
    assert watch.reason == ""


def test_a_loop_of_lines_is_cut_after_three_copies():
    block = "The tests run with pytest -q.\n\nRepository map: the files.\n"
    watch = ReplyWatch()
    seen = _feed(watch, "Intro line here.\n" + block * 50)
    assert watch.reason == "repeating"
    assert seen.count("Repository map") == 3


def test_short_repeated_lines_are_not_a_loop():
    assert not repeats_at_end("    pass\n    pass\n    pass\n    pass\n")
    assert repeats_at_end("x\n" + "total = total + price * quantity\n" * 3)
    assert not repeats_at_end("total = total + price * quantity\n" * 2)


def test_the_users_stop_is_reported_as_cancelled():
    watch = ReplyWatch(user_stop=lambda: True, complete=lambda text: True)
    watch.feed("a")
    assert watch.done()
    assert watch.reason == "cancelled"


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        (VIEW, True),
        ("<function=view>\n<parameter=path>a.py</parameter>\n", False),  # still open
        ('{"name": "view", "arguments": {"path": "a.py"}}', True),
        ('{"name": "view", "arguments": {"path": "a.py"', False),
        ('I think {"x": 1} is the value', False),  # JSON, but not an action
        ("```bash\nls -la\n```", True),
        ("```bash\nls -la\n", False),
        ("```python\nx = 1\n```", False),  # code, not an action
        ("<tool_call>\n{}\n</tool_call>", True),
        ("plain words", False),
    ],
)
def test_action_complete(text, complete):
    assert action_complete(text) is complete


def test_format_error_message_is_short_and_shows_a_valid_example():
    with pytest.raises(FormatError) as info:
        parse_action("I think the bug is somewhere. " * 30, TOOLS)
    message = str(info.value)
    assert len(message) < 250
    assert "I think the bug" not in message  # the model's own text is not echoed back
    example = message[message.index("<function=") :]
    action = parse_action(example, TOOLS)  # the example itself is a correct reply
    assert action.name == "view"
    assert set(action.arguments) == {"path"}  # required parameters only


# -- the loop with a streaming model -----------------------------------------------------------


def test_a_rambling_model_is_cut_early_and_stops_after_three_format_errors(demo_repo):
    ramble = "The last five items can never be shown when the page is full. " * 80
    model = StreamingModel([ramble] * 4, n_params=135_000_000)
    started = time.perf_counter()
    outcome = _agent(demo_repo, model, prose_chars=400).run("fix it")
    assert outcome.status == "format_errors"  # a cut is not a cancel
    assert outcome.steps == 3
    assert all(len(sent) <= 400 + 7 for sent in model.streamed)
    assert sum(len(sent) for sent in model.streamed) < len(ramble)
    assert time.perf_counter() - started < 30


def test_a_looping_reply_is_cut_without_a_prose_limit(demo_repo):
    loop = "Now I run the tests again to check.\n" * 100
    model = StreamingModel([loop, VIEW, "<function=submit>\n</function>"])
    outcome = _agent(demo_repo, model, max_steps=3).run("fix it")
    assert model.streamed[0].count("Now I run the tests") == 3
    assert outcome.status != "cancelled"


def test_a_reply_ends_right_after_its_first_json_action(demo_repo):
    action = '{"name": "view", "arguments": {"path": "mathlib/core.py"}}'
    chatter = "\nThen I will edit the file and run the tests and submit. " * 30
    model = StreamingModel([action + chatter, "bye"])
    agent = _agent(demo_repo, model, max_steps=2)
    agent.run("fix it")
    assert model.streamed[0].startswith(action)
    assert len(model.streamed[0]) < len(action) + 10
    observations = [m["content"] for m in agent.messages if m["role"] == "user"]
    assert any("def add" in text for text in observations)  # the view ran


def test_the_users_stop_still_cancels(demo_repo):
    model = StreamingModel(["I will look at it. " * 20])
    workspace = Workspace(demo_repo)
    workspace.snapshot()
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    agent = Agent(model, workspace, fix_tools(), settings=AgentSettings(), should_stop=stop)
    assert agent.run("fix it").status == "cancelled"


# -- reply room --------------------------------------------------------------------------------


def _settings(config: Config, model: StreamingModel, mode: str = "text") -> AgentSettings:
    config = dataclasses.replace(config, mode=mode)
    return settings_from(config, choose_profile(config, model, has_failure=True), verify_after_edits=True)


def test_text_replies_are_capped_by_the_window_and_tighter_for_tiny_models():
    config = Config()  # reply_tokens 1024 by default
    tiny = _settings(config, StreamingModel([], n_params=135_000_000))
    big = _settings(config, StreamingModel([], n_params=7_000_000_000))
    small_window = _settings(config, StreamingModel([], n_params=7_000_000_000, window=2048))
    assert big.reply_tokens == config.reply_tokens  # a big window does not raise the user's limit
    assert tiny.reply_tokens < big.reply_tokens
    assert small_window.reply_tokens <= 2048 // 4
    assert tiny.prose_chars is not None
    assert big.prose_chars is not None
    assert tiny.prose_chars < big.prose_chars
    tools = _settings(config, StreamingModel([], n_params=100), mode="tools")
    assert tools.reply_tokens == config.reply_tokens
    assert tools.prose_chars is None


def test_the_loop_asks_for_no_more_than_the_capped_reply(demo_repo):
    model = StreamingModel([VIEW, VIEW], n_params=135_000_000)
    settings = _settings(Config(max_steps=1), model)
    workspace = Workspace(demo_repo)
    workspace.snapshot()
    Agent(model, workspace, fix_tools(), settings=settings, verify=make_verifier(workspace)).run("fix it")
    assert model.max_tokens
    assert max(model.max_tokens) <= settings.reply_tokens < Config().reply_tokens


# -- loops whatever the line breaks (issue 12: a 987-token chat reply repeating a sentence) -------


def test_a_sentence_repeated_inside_one_paragraph_is_a_loop():
    sentence = "The function is defined as `mean` and is used to calculate the mean of the list. "
    watch = ReplyWatch()
    seen = _feed(watch, "It returns a float. " + sentence * 30)
    assert watch.reason == "repeating"
    assert seen.count("is defined as") <= 4  # stopped within about three copies, not thirty
    assert trim_loop(seen) == "It returns a float. " + sentence.strip()


def test_a_short_line_repeated_many_times_is_a_loop_but_a_few_are_not():
    watch = ReplyWatch()
    seen = _feed(watch, "def f(a, b):\n" + "    return a + b\n" * 100)
    assert watch.reason == "repeating"
    assert seen.count("return a + b") < 20
    assert trim_loop(seen) == "def f(a, b):\n    return a + b"
    assert loop_at_end("    return a + b\n" * 3) == ""


def test_a_counter_going_up_is_a_loop_only_over_a_longer_span():
    counted = "".join(f"Step {i}: check the value again.\n" for i in range(1, 40))
    assert loop_at_end(counted)
    assert loop_at_end(counted[:300]) == ""  # only numbers differ: more than 300 characters needed
    assert trim_loop("x = 1\n" + counted).endswith("Step 1: check the value again.")


def test_a_repetition_copied_from_the_source_file_is_not_a_loop():
    table = "".join(f"    {i}: 'entry number {i}',\n" for i in range(60))
    source = "TABLE = {\n" + table + "}\n"
    copying = ReplyWatch(source=source)
    _feed(copying, "```python\n" + source)
    assert copying.reason == ""
    looping = ReplyWatch()
    _feed(looping, "```python\n" + source)
    assert looping.reason == "repeating"


def test_ordinary_code_and_prose_are_not_loops():
    code = (Path(__file__).parent / "test_replywatch.py").read_text()
    watch = ReplyWatch()
    _feed(watch, code[:6000], size=40)
    assert watch.reason == ""

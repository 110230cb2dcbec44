"""Start `plt-agent` with a scripted backend that streams word by word, slowly.

Used by the pseudo-terminal tests to press Ctrl-C in the middle of an answer. The delay per
word comes from PLT_TEST_WORD_DELAY (seconds); PLT_TEST_PREFILL_S makes the prompt take that
long first, reported through `on_progress` as a real backend does. The model stops as real
backends do: it polls `should_stop` between pieces and returns what it has with
finish_reason "cancelled".
"""

from __future__ import annotations

import os
import re
import sys
import time

from plt_agent.models import scripted
from plt_agent.models.base import Reply, Usage


class SlowScriptedModel(scripted.ScriptedModel):
    def answer(self, messages, request):
        if self.n_calls >= len(self.replies):
            raise scripted.ScriptExhausted(f"{self.name}: ran out of replies")
        content = str(self.replies[self.n_calls].get("content") or "")
        self.n_calls += 1
        delay = float(os.environ.get("PLT_TEST_WORD_DELAY", "0.2"))
        prefill = float(os.environ.get("PLT_TEST_PREFILL_S", "0"))  # a slow prompt, reported as it goes
        total = self.count_tokens(messages)
        for step in range(1, 11 if prefill else 0):
            time.sleep(prefill / 10)
            if request.on_progress:
                request.on_progress("prompt", total * step // 10, total)
        sent = ""
        for word in re.findall(r"\S+\s*", content):
            if request.should_stop and request.should_stop():
                return Reply(
                    sent, finish_reason="cancelled", usage=Usage(completion_tokens=len(sent.split()))
                )
            time.sleep(delay)
            sent += word
            if request.on_text:
                request.on_text(word)
        return Reply(
            sent, usage=Usage(prompt_tokens=self.count_tokens(messages), completion_tokens=len(sent.split()))
        )


if __name__ == "__main__":
    scripted.ScriptedModel = SlowScriptedModel  # load_model imports it by name at load time
    from plt_agent.cli import main

    sys.argv = ["plt-agent", *sys.argv[1:]]
    main()

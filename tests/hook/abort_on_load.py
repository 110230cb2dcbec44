"""Start `plt-agent` with a model loader that dies of SIGABRT, as a GGUF tripping a GGML_ASSERT does.

Used as the installed hook's command (`hook install --command "python abort_on_load.py"`):
the abort happens wherever the review loads its model, which must not take the hook down.
"""

from __future__ import annotations

import os
import sys

import plt_agent.models


def _abort(spec, options=None, **ignored):
    os.write(2, b"ggml/src/ggml.c:1234: GGML_ASSERT(hparams.n_layer > 0) failed\n")
    os.abort()


if __name__ == "__main__":
    plt_agent.models.load_model = _abort  # the hook imports load_model by name at load time
    from plt_agent.cli import main

    sys.argv = ["plt-agent", *sys.argv[1:]]
    main()

"""A small real byte-level BPE tokenizer and chat template for tiny test checkpoints.

`tokenizer_json(vocab_size)` trains a BPE with the `tokenizers` library on a corpus
generated here (deterministic, no files read), so the result is identical on every run.
The layout mimics the LoopCoder release: `<unk>` = 0, `<s>` (bos) = 1, `</s>` (eos) = 2,
the learned byte-level merges, then the chat and tool tokens (as the real 75864/75869 eos
ids sit near the end). When the corpus cannot fill `vocab_size`, `<|reserved_N|>` tokens pad the
tail, as real vocabularies are padded to a round size. The vocabulary has exactly
`vocab_size` entries, counting the added tokens.

`tokenizer_config(...)` and `CHAT_TEMPLATE` give the matching `tokenizer_config.json`:
a ChatML-style template with `<|im_start|>`/`<|im_end|>`, a `tools` list in the system
turn, and assistant tool calls / tool responses as `<tool_call>` / `<tool_response>`
blocks holding JSON. It knows nothing about model weights.
"""

from __future__ import annotations

import functools
import json
import random

BASE_SPECIAL = ("<unk>", "<s>", "</s>")  # ids 0, 1, 2
CHAT_SPECIAL = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")  # appended, special
TOOL_TAGS = (  # appended, not special (as in the IQuest-Coder V1 tokenizer files)
    "<think>",
    "</think>",
    "<tools>",
    "</tools>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
)
ADDED = CHAT_SPECIAL + TOOL_TAGS
MIN_VOCAB = 256 + len(BASE_SPECIAL) + len(ADDED) + 16
MAX_VOCAB = 4096

CHAT_TEMPLATE = """\
{%- if tools %}
{{- '<|im_start|>system\\n' }}
{%- if messages and messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}
{{- '# Tools\\n\\nYou may call one or more functions. Their signatures:\\n<tools>' }}
{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}
{{- '\\n</tools>\\n\\nFor each call, reply with a JSON object inside <tool_call></tool_call> tags:\\n' }}
{{- '<tool_call>\\n{"name": <function-name>, "arguments": <args-json-object>}\\n</tool_call><|im_end|>\\n' }}
{%- elif messages and messages[0].role == 'system' %}
{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant\\n' + (message.content or '') }}
{%- for call in message.tool_calls or [] %}
{%- set fn = call.function if call.function is defined else call %}
{%- if (message.content or not loop.first) %}{{- '\\n' }}{%- endif %}
{{- '<tool_call>\\n{"name": "' + fn.name + '", "arguments": ' }}
{%- if fn.arguments is string %}{{- fn.arguments }}{%- else %}{{- fn.arguments | tojson }}{%- endif %}
{{- '}\\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\\n' }}
{%- elif message.role == 'tool' %}
{%- if loop.first or loop.previtem.role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}
{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}
{%- if loop.last or loop.nextitem.role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}
{%- else %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""

_WORD_TEXT = (
    "the model reads a file and writes a test for each function it finds in the repository "
    "loop window gate cache token layer hidden state value key query attention shift carry "
    "python code class def return import from self none true false print list dict string "
    "error message line number path name value result check run build install update"
)
_WORDS = tuple(_WORD_TEXT.split())
_SNIPPETS = (
    "def {a}({b}, {c}):\n    return {b} + {c}\n",
    "class {A}:\n    def __init__(self, {b}):\n        self.{b} = {b}\n",
    "for {b} in range({n}):\n    print({b}, {c})\n",
    'if {b} is None:\n    raise ValueError("{a} {c}")\n',
    "import {a}\nfrom {b} import {c}\n",
    "{b} = [{n}, {m}, {n}]  # {a} {c}\n",
    "while {b} < {n}:\n    {b} += {m}\n",
    'with open("{a}.txt") as f:\n    {b} = f.read()\n',
)


def corpus(n_docs: int = 600) -> list[str]:
    """Deterministic text for training: English-like sentences and Python-like snippets."""
    rng = random.Random(1234)
    docs = []
    for _ in range(n_docs):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 16))]
        sentence = " ".join(words).capitalize() + rng.choice([".", "!", "?", ":"])
        names = {k: rng.choice(_WORDS) for k in "abc"}
        snippet = rng.choice(_SNIPPETS).format(
            A=names["a"].capitalize(), n=rng.randint(0, 99), m=rng.randint(1, 9), **names
        )
        docs.append(sentence + "\n" + snippet)
    docs.append("".join(chr(c) for c in range(32, 127)) + " éüß €漢字 ✓\t\n")
    return docs


@functools.lru_cache(maxsize=8)
def tokenizer_json(vocab_size: int) -> str:
    """The serialized `tokenizer.json` of a byte-level BPE with exactly `vocab_size` tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if not MIN_VOCAB <= vocab_size <= MAX_VOCAB:
        raise ValueError(f"tiny vocab must be between {MIN_VOCAB} and {MAX_VOCAB}, got {vocab_size}")
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(ADDED),
        min_frequency=1,
        special_tokens=list(BASE_SPECIAL),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    tok.add_special_tokens(list(CHAT_SPECIAL))
    tok.add_tokens(list(TOOL_TAGS))
    # Like real vocabularies padded to a round size: fill what the corpus could not learn.
    missing = vocab_size - tok.get_vocab_size(with_added_tokens=True)
    tok.add_special_tokens([f"<|reserved_{i}|>" for i in range(missing)])
    return tok.to_str(pretty=False)


def token_ids(vocab_size: int) -> dict[str, int]:
    """Id of every special or added token of `tokenizer_json(vocab_size)`."""
    data = json.loads(tokenizer_json(vocab_size))
    ids = {t["content"]: t["id"] for t in data["added_tokens"]}
    return {name: ids[name] for name in BASE_SPECIAL + ADDED}


def eos_ids(vocab_size: int) -> list[int]:
    """The config's eos list: `</s>`, then the chat end-of-turn and end-of-text tokens."""
    ids = token_ids(vocab_size)
    return [ids["</s>"], ids["<|im_end|>"], ids["<|endoftext|>"]]


def tokenizer_config(vocab_size: int, max_length: int) -> dict:
    """`tokenizer_config.json` for the tiny tokenizer, chat template included."""
    data = json.loads(tokenizer_json(vocab_size))
    decoder = {
        str(t["id"]): {
            "content": t["content"],
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": t["special"],
        }
        for t in data["added_tokens"]
    }
    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "added_tokens_decoder": decoder,
        "bos_token": "<s>",
        "eos_token": "<|im_end|>",
        "unk_token": "<unk>",
        "pad_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "model_max_length": max_length,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }

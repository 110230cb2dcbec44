"""Tokenizers and chat templates, taken from the GGUF file itself.

- `pltcoder` files carry the HF tokenizer JSON (`tokenizer.huggingface.json`): encoded and
  decoded with the `tokenizers` library, exactly as the original checkpoint.
- `llama` files made by llama.cpp carry llama.cpp's own vocabulary: encoded and decoded by
  llama.cpp's tokenizer (a vocab-only load through llama-cpp-python), so it matches it.
The chat template (`tokenizer.chat_template`) is rendered by `engine.chat_template` (a sandboxed
jinja2 with time and size bounds, as HF renders it);
a file without one gets ChatML. `StreamDecoder` turns a growing list of ids into text deltas
without splitting UTF-8 characters.

Knows nothing about models' weights or sampling.
"""

from __future__ import annotations

import ctypes as C
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from engine.arch import ARCH, ARCH_V1, Keys
from engine.chat_template import ChatTemplate
from engine.errors import EngineError

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + (message['content'] or '') "
    "+ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class Vocab(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def token_text(self, token: int) -> str: ...


class _HFVocab:
    def __init__(self, tokenizer_json: str, path: Path):
        from tokenizers import Tokenizer

        try:
            self.tok = Tokenizer.from_str(tokenizer_json)
        except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception
            raise EngineError(f"{path}: the embedded tokenizer JSON cannot be loaded ({exc})") from None

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True)

    def token_text(self, token: int) -> str:
        return self.tok.id_to_token(token) or ""


class _LlamaCppVocab:
    """llama.cpp's tokenizer for `llama` GGUF files (vocab-only load: no weights read)."""

    def __init__(self, path: Path):
        import llama_cpp as L
        from llama_cpp import _logger

        self.L = L
        _logger.set_verbose(False)  # llama.cpp prints its whole load log otherwise
        L.llama_backend_init()
        params = L.llama_model_default_params()
        params.vocab_only = True
        self.model = L.llama_model_load_from_file(str(path).encode(), params)
        if not self.model:
            raise EngineError(f"{path}: llama.cpp cannot read the vocabulary of this file")
        self.vocab = L.llama_model_get_vocab(self.model)

    def encode(self, text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 16
        buf = (self.L.llama_token * cap)()
        n = self.L.llama_tokenize(self.vocab, raw, len(raw), buf, cap, False, True)
        if n < 0:
            buf = (self.L.llama_token * -n)()
            n = self.L.llama_tokenize(self.vocab, raw, len(raw), buf, -n, False, True)
        return list(buf[:n])

    def end_of_generation_ids(self) -> list[int]:
        n = self.L.llama_vocab_n_tokens(self.vocab)
        return [t for t in range(n) if self.L.llama_vocab_is_eog(self.vocab, t)]

    def _piece(self, token: int, special: bool) -> bytes:
        buf = C.create_string_buffer(64)
        n = self.L.llama_token_to_piece(self.vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = C.create_string_buffer(-n)
            n = self.L.llama_token_to_piece(self.vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def decode(self, ids: Sequence[int]) -> str:
        return b"".join(self._piece(int(t), False) for t in ids).decode("utf-8", errors="replace")

    def token_text(self, token: int) -> str:
        return self._piece(token, True).decode("utf-8", errors="replace")

    def __del__(self) -> None:
        if getattr(self, "model", None):
            self.L.llama_model_free(self.model)
            self.model = None


class Tokenizer:
    """Text <-> ids for one model file, plus its chat template and stop ids."""

    def __init__(
        self,
        vocab: Vocab,
        template: str | None,
        eos_ids: Sequence[int],
        bos_id: int | None,
        add_bos: bool = False,
    ):
        self.vocab = vocab
        self.template_source = template or CHATML
        self.eos_ids = tuple(eos_ids)
        self.bos_id = bos_id
        self.add_bos = add_bos and bos_id is not None

    def encode(self, text: str) -> list[int]:
        """Plain text to ids; special-token text such as <|im_start|> maps to its special id."""
        return self.vocab.encode(text)

    def encode_prompt(self, text: str) -> list[int]:
        """A whole prompt: `encode`, with BOS in front when the file asks for it."""
        ids = self.encode(text)
        if self.add_bos and (not ids or ids[0] != self.bos_id):
            ids = [self.bos_id, *ids]
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.vocab.decode(ids)

    @cached_property
    def _template(self) -> ChatTemplate:
        return ChatTemplate(self.template_source)

    def render_chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
    ) -> str:
        return self._template.render(
            messages=messages,
            tools=tools,
            add_generation_prompt=add_generation_prompt,
            bos_token=self._special(self.bos_id),
            eos_token=self._special(self.eos_ids[0] if self.eos_ids else None),
        )

    def _special(self, token: int | None) -> str:
        return "" if token is None else self.vocab.token_text(token)


def from_model_file(
    path: Path, arch: str, metadata: dict[str, Any], eos_ids: Sequence[int], bos_id: int | None
) -> Tokenizer:
    template = metadata.get(Keys.CHAT_TEMPLATE)
    if arch in (ARCH, ARCH_V1):  # our converter embeds the HF tokenizer.json
        tokenizer_json = metadata.get(Keys.TOKENIZER_HF_JSON)
        if not tokenizer_json:
            raise EngineError(
                f"{path}: no embedded tokenizer ({Keys.TOKENIZER_HF_JSON}); reconvert the model"
            )
        vocab: Vocab = _HFVocab(tokenizer_json, path)
    else:
        llama_vocab = _LlamaCppVocab(path)
        eos_ids = sorted(set(eos_ids) | set(llama_vocab.end_of_generation_ids()))
        vocab = llama_vocab
    return Tokenizer(vocab, template, eos_ids, bos_id, bool(metadata.get(Keys.ADD_BOS, False)))


class StreamDecoder:
    """Incremental detokenization: feed ids one by one, get new text, never half a character.

    Decodes only a short window (the previous token or so plus the new ones), so a long
    generation costs linear, not quadratic, time.
    """

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0

    def push(self, token: int) -> str:
        self.ids.append(token)
        decode = self.tokenizer.decode
        prefix = decode(self.ids[self.prefix_offset : self.read_offset])
        text = decode(self.ids[self.prefix_offset :])
        if len(text) <= len(prefix) or text.endswith("\ufffd"):
            return ""  # nothing printable yet (e.g. the first bytes of a multi-byte character)
        self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
        return text[len(prefix) :]

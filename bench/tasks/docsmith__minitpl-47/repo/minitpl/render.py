import re

from .registry import lookup

_TAG = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)((?:\s*\|\s*[A-Za-z_]\w*)*)\s*\}\}")


def _value(context, dotted):
    cur = context
    for part in dotted.split("."):
        cur = cur[part]
    return str(cur)


def render(template, context):
    def substitute(m):
        text = _value(context, m.group(1))
        for name in filter(None, (f.strip() for f in m.group(2).split("|"))):
            text = lookup(name)(text)
        return text

    return _TAG.sub(substitute, template)

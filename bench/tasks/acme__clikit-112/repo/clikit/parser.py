"""Parse `--name value`, `--name=value`, flags and positional arguments."""

from .errors import ParseError


class Option:
    def __init__(self, name, default=None, flag=False, type=str):
        self.name = name
        self.default = False if flag and default is None else default
        self.flag = flag
        self.type = type


class Parser:
    def __init__(self):
        self.options = {}

    def add_option(self, name, default=None, flag=False, type=str):
        self.options[name] = Option(name, default, flag, type)
        return self

    def parse(self, argv):
        """Return (values, positional) for the argument list `argv`."""
        values = {name: opt.default for name, opt in self.options.items()}
        positional = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                positional.extend(argv[i + 1 :])
                break
            if not arg.startswith("--"):
                positional.append(arg)
                i += 1
                continue
            body = arg[2:]
            if "=" in body:
                name, raw = body.split("=")
            else:
                name, raw = body, None
            opt = self._lookup(name)
            if opt.flag:
                if raw is not None:
                    raise ParseError(f"option --{name} takes no value")
                values[name] = True
            else:
                if raw is None:
                    i += 1
                    if i >= len(argv):
                        raise ParseError(f"option --{name} needs a value")
                    raw = argv[i]
                values[name] = self._convert(opt, raw)
            i += 1
        return values, positional

    def _lookup(self, name):
        try:
            return self.options[name]
        except KeyError:
            raise ParseError(f"unknown option --{name}") from None

    def _convert(self, opt, raw):
        try:
            return opt.type(raw)
        except ValueError:
            raise ParseError(f"option --{opt.name}: cannot convert {raw!r}") from None
